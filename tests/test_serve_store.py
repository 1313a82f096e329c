"""`chainkg serve --store URL` (issue #11 item 5): the web surface answered from an external store.

The suites (test_sparql_protocol.py, test_linked_data.py, test_api.py) run against Oxigraph server
and Virtuoso too (tests/store_serving.py); here: what only a store has. The answers match the
embedded server's (the distinct union default graph, named graphs, asserted-only, blank nodes);
a store that is down, slow, redirects or answers garbage costs that request a clear 502/504 while
the server keeps serving (and /healthz says degraded); the guard refuses before anything is sent;
bad options are clear CLI errors."""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from engines import OXIGRAPH, start_oxigraph
from live_server import CHAINKG, free_port, start_server, stop_process, wait_until_answering
from store_serving import LIVE_ARGS, ROOT, STORES, push, store_server

P = "PREFIX id: <https://w3id.org/chainkg/id/>\nPREFIX ck: <https://w3id.org/chainkg/ontology#>\n"
SAME_ANSWERS = {
    "distinct union": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "quads": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
    "graphs": "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",  # Virtuoso: GRAPH ?g {} is empty
    "claims of qingdao": P + "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { id:qingdao ?p ?o } }",
}
WHOLE_GRAPH_SCANS = {"quads", "graphs"}  # every quad of every named graph (the others are bounded)
BLANK = "SELECT ?s ?p WHERE { ?s ?p ?b FILTER(isIRI(?s) && isBlank(?b)) } ORDER BY ?s ?p LIMIT 1"


def count(server, query, **params) -> int:
    r = requests.get(server.sparql, params={"query": query, **params},
                     headers={"Accept": "application/sparql-results+json"}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("engine", STORES)
def test_answers_are_the_embedded_servers(engine, live_server, request):
    """GRAPH-free queries see the distinct union (a triple stated by two claims counts once), GRAPH ?g
    sees exactly the dataset's graphs (not the store's serving or system graphs), inferred=false
    leaves the derived graphs out, and blank nodes come back as blank nodes, as on the embedded store."""
    served = store_server(engine, request)[1]
    for name, query in SAME_ANSWERS.items():
        if engine == "virtuoso" and name in WHOLE_GRAPH_SCANS:
            # Virtuoso weighs every quad against the request's named-graph-uri list (a graph per claim and per
            # derivation group: 1,700 here) and took 1.8 s+ under load for these two scans, past the test
            # server's 2 s limit (503 or 504, whichever gives up first); the answer, when it comes in time, must still be the embedded one
            r = requests.get(served.sparql, params={"query": query}, headers={"Accept": "application/sparql-results+json"},
                             timeout=60)
            if r.status_code in (503, 504):  # the store's answer late (504) or our own limit first (503)
                assert "did not answer within" in r.text or "longer than the time limit" in r.text, r.text[:300]
                continue
            assert r.status_code == 200, r.text[:500]
            got = int(r.json()["results"]["bindings"][0]["n"]["value"])
        else:
            got = count(served, query)
        assert got == count(live_server, query), name
    assert count(served, SAME_ANSWERS["distinct union"], inferred="false") == \
        count(live_server, SAME_ANSWERS["distinct union"], inferred="false")
    assert count(served, SAME_ANSWERS["distinct union"], inferred="false") < count(served, SAME_ANSWERS["distinct union"])
    # a blank node (a skolem IRI in the store) comes back as a blank node
    row = requests.get(live_server.sparql, params={"query": BLANK}, timeout=30).json()["results"]["bindings"][0]
    back = requests.get(served.sparql, params={"query": f"SELECT ?b WHERE {{ <{row['s']['value']}> <{row['p']['value']}> ?b }}"},
                        timeout=30).json()["results"]["bindings"]
    assert any(b["b"]["type"] == "bnode" for b in back)
    assert not any(b["b"]["value"].startswith("https://w3id.org/chainkg/genid/") for b in back)
    health = requests.get(served.url + "/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["store"].endswith(("/query", "/sparql"))
    assert health["version"] == requests.get(live_server.url + "/healthz", timeout=30).json()["version"]
    # the linked data of the hub entity (its HTML page, one store call per neighbour, is covered on the
    # small fixture project by test_linked_data.py: on Virtuoso under load it took over 30 s here)
    page = requests.get(served.url + "/id/qingdao", headers={"Accept": "text/turtle"}, timeout=60)
    assert page.status_code == 200 and "青岛" in page.text


@pytest.mark.xfail(strict=True, reason="both stores: push writes blank nodes as skolem IRIs (the protocol cannot share "
                   "one between requests), so isBlank() inside a query is false on the store; answers turn them back")
@pytest.mark.parametrize("engine", STORES)
def test_is_blank_inside_a_query(engine, live_server, request):
    served = store_server(engine, request)[1]
    q = "SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE { ?s ?p ?b FILTER(isBlank(?b)) }"
    assert count(served, q) == count(live_server, q)


# -- a store that misbehaves ------------------------------------------------------------------------
class FakeStore:
    """A SPARQL endpoint on loopback in front of a real one (`upstream`), answering as `mode` says:
    "proxy" (the upstream's answer), "garbage" (200 with HTML), "slow" (nothing for 30 s), "redirect"
    (302 to `elsewhere`). Records every request body."""

    def __init__(self, upstream: str, elsewhere: str = "http://127.0.0.1:9/"):
        self.mode, self.bodies, self.upstream, self.elsewhere = "proxy", [], upstream, elsewhere
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.bodies.append(body)
                if fake.mode == "proxy":
                    req = urllib.request.Request(fake.upstream, data=body, method="POST", headers={
                        h: self.headers[h] for h in ("Content-Type", "Accept") if self.headers.get(h)})
                    with urllib.request.urlopen(req, timeout=30) as r:
                        return self._send(r.status, r.read(), r.headers.get("Content-Type", ""))
                if fake.mode == "slow":
                    time.sleep(30)
                if fake.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fake.elsewhere)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, b"<html><body>Welcome to nginx!</body></html>", "application/sparql-results+xml")

            def _send(self, status, data, ctype):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake(config, kg, tmp_path_factory, listener):
    workdir = tmp_path_factory.mktemp("fake")
    engine = start_oxigraph(workdir)
    assert push(engine, config).returncode == 0
    store = FakeStore(engine.query, elsewhere=listener.url)
    server = start_server(["--store", store.url, *LIVE_ARGS], workdir / "server.log",
                          root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
    store.mode = "garbage"
    yield store, server
    server.stop()
    store.close()
    engine.stop()


def test_garbage_is_a_502_saying_so(fake):
    store, server = fake
    store.mode = "garbage"
    r = requests.get(server.sparql, params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}, timeout=30)
    assert r.status_code == 502
    assert f"the store {store.url} did not answer with SPARQL XML results" in r.text and "nginx" in r.text
    page = requests.get(server.url + "/id/qingdao", timeout=30)
    assert page.status_code == 502 and store.url in page.text
    health = requests.get(server.url + "/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "degraded"


def test_slow_store_is_a_504_within_the_time_limit(fake):
    store, server = fake
    store.mode = "slow"
    started = time.monotonic()
    r = requests.get(server.sparql, params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}, timeout=30)
    assert r.status_code in (503, 504), r.text  # the store call's deadline (504) or the query's (503)
    assert time.monotonic() - started < 4  # the test server's limit is 2 s
    assert "did not answer within" in r.text or "time limit" in r.text
    store.mode = "garbage"
    assert requests.get(server.url + "/api/queries", timeout=30).status_code == 200  # still serving


def test_redirects_are_not_followed(fake, listener):
    store, server = fake
    store.mode = "redirect"
    before = len(listener.connections)
    r = requests.get(server.sparql, params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}, timeout=30)
    assert r.status_code == 502 and "redirects are not followed" in r.text and listener.url in r.text
    assert len(listener.connections) == before  # nobody went where the store pointed
    store.mode = "garbage"


@pytest.mark.parametrize("query, status", [
    ("CLEAR ALL", 403),
    ("INSERT DATA { <http://a> <http://b> <http://c> }", 403),
    ("LOAD <http://127.0.0.1:9/x.ttl>", 403),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", 400),
    ("PREFIX bif: <bif:> SELECT (bif:http_get('http://127.0.0.1:9/') AS ?x) WHERE { }", 400),
    ("SELECT * WHERE { ?s ?p ", 400),
])
def test_the_guard_refuses_before_anything_is_sent(fake, query, status):
    store, server = fake
    before = len(store.bodies)
    r = requests.post(server.sparql, data={"query": query}, timeout=30)
    assert r.status_code == status, r.text
    assert len(store.bodies) == before  # the store was not asked


def test_store_down_then_back(config, kg, tmp_path):
    """A whole push deletes our graphs that left the dataset (never another's). Oxigraph stopped under a running server: 502 per request, /healthz degraded, the server keeps
    serving what needs no store; started again on the same port: answers again."""
    engine = start_oxigraph(tmp_path)
    gone, other = "https://w3id.org/chainkg/claim/999-left-the-dataset", "http://example.org/not-ours"
    for g in (gone, other):  # a graph of ours that is no longer in the dataset, and someone else's
        r = requests.put(engine.store, params={"graph": g}, data=b"<http://a> <http://b> <http://c> .\n",
                         headers={"Content-Type": "application/n-triples"}, timeout=30)
        assert r.status_code in (201, 204), r.text
    pushed = push(engine, config)
    assert pushed.returncode == 0, pushed.stderr
    assert f"deleted {gone} (no longer in the dataset)" in pushed.stdout and other not in pushed.stdout
    graphs = requests.get(engine.query, params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30).json()
    names = {b["g"]["value"] for b in graphs["results"]["bindings"]}
    assert gone not in names and other in names
    server = start_server(["--store", engine.query, *LIVE_ARGS], tmp_path / "server.log",
                          root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
    again = None
    try:
        q = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
        assert requests.get(server.sparql, params=q, timeout=30).status_code == 200
        engine.stop()
        fresh = {"query": q["query"] + " # not in the result cache"}  # a cached answer is still served
        r = requests.get(server.sparql, params=fresh, timeout=30)
        assert r.status_code == 502 and f"the store {engine.query} could not be reached" in r.text
        assert requests.get(server.url + "/id/laoshan-district", timeout=30).status_code == 502
        health = requests.get(server.url + "/healthz", timeout=30).json()
        assert health["status"] == "degraded" and "does not answer" in health["error"]
        assert requests.get(server.url + "/api/queries", timeout=30).status_code == 200
        port = engine.query.split(":")[2].split("/")[0]
        again = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(tmp_path / "oxigraph-store"),
                                  "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until_answering(engine.query + "?query=ASK%7B%7D", again, tmp_path / "server.log", 60)
        assert requests.get(server.sparql, params=fresh, timeout=30).status_code == 200
        assert requests.get(server.url + "/healthz", timeout=30).json()["status"] == "ok"
    finally:
        server.stop()
        engine.stop()
        if again is not None:
            stop_process(again)


# -- the command line --------------------------------------------------------------------------------
def serve(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([CHAINKG, "--root", str(ROOT), "serve", "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--store", "ftp://127.0.0.1/sparql"], "give the store's SPARQL query endpoint as an http(s) URL"),
    (["--store", "http://127.0.0.1:99999/query"], "the port is not a number"),
    (["--store", "http://user:pw@127.0.0.1:7878/query"], "credentials in the URL"),
    (["--store", "http://127.0.0.1:7878/query", "--data", "x.ttl"], "--store and --data exclude each other"),
    (["--store", "http://127.0.0.1:7878/query", "--allow-service", "http://127.0.0.1:9/sparql"],
     "--store and --allow-service exclude each other"),
])
def test_bad_options_are_clear_errors(args, message):
    r = serve(*args)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_a_store_without_a_push_or_not_answering_is_a_clear_error(tmp_path):
    engine = start_oxigraph(tmp_path)
    try:
        r = serve("--store", engine.query)
        assert r.returncode != 0 and "holds no chainkg dataset" in r.stderr and "chainkg push" in r.stderr, r.stderr
    finally:
        engine.stop()
    r = serve("--store", f"http://127.0.0.1:{free_port()}/query")
    assert r.returncode != 0 and "cannot read the dataset from the store" in r.stderr, r.stderr


def test_readme_documents_serve_store():
    text = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    assert "chainkg serve --store" in text
