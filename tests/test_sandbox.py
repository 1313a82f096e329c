"""Issue 14: safety by construction, proven by attacking the real server and the evaluator processes.

The query scanner gives clear messages; these tests show that the guarantees hold without it:
evaluators and web workers cannot reach the network, a runaway is killed in time and memory, a
crash costs one answer, slow clients hold no worker, bodies are bounded chunked or not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from chainkg.sparql import errors
from chainkg.sparql.sandbox import MemoryLimitExceeded, Pool, Zygote

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def zygote(kg):
    z = Zygote(kg, memory_limit=1 << 30)
    z.start()
    yield z
    z.stop()


def _spec(text: str) -> dict:
    return {"text": text, "format": "json", "max_rows": 100, "base_iri": None, "prefixes": {}, "services": False,
            "store": "union", "default_graphs": [], "named_graphs": [], "substitutions": []}


# -- the evaluators, driven directly: no scanner in the way -----------------------------------------
def test_an_evaluator_cannot_connect_anywhere_even_when_asked_directly(zygote, listener):
    """The scanner is bypassed: the job goes straight to an evaluator. SERVICE to a listening
    loopback port fails inside the sandbox, and the listener sees no connection."""
    pool = Pool(zygote.path)
    before = len(listener.connections)
    for target in (listener.url, f"http://localhost:{listener.port}/x", "http://10.0.0.1:80/x"):
        with pytest.raises(errors.QueryError) as e:
            pool.run("query", _spec(f"SELECT * WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}"), timeout=10,
                     max_memory=None)
        assert "unreachable" in e.value.message.lower() or "resolve" in e.value.message.lower() or \
            "dns" in e.value.message.lower() or "failed" in e.value.message.lower(), e.value.message
    time.sleep(0.3)
    assert len(listener.connections) == before
    assert zygote.isolation in ("network namespace", "user + network namespace")
    pool.close()


def test_the_zygote_and_its_evaluators_live_in_another_network_namespace(zygote):
    mine = os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{zygote.pid}/ns/net") != mine


def test_an_evaluator_killed_at_the_time_limit_is_gone_and_the_next_job_runs(zygote):
    pool = Pool(zygote.path)
    t0 = time.monotonic()
    with pytest.raises(errors.QueryTimeout):
        pool.run("query", _spec("SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"), timeout=1,
                 max_memory=None)
    assert time.monotonic() - t0 < 2
    header, body = pool.run("query", _spec("ASK { ?s ?p ?o }"), timeout=5, max_memory=None)
    assert json.loads(body)["boolean"] is True
    pool.close()


def test_an_evaluator_past_the_memory_limit_is_killed_and_its_memory_comes_back(zygote):
    pool = Pool(zygote.path)
    t0 = time.monotonic()
    with pytest.raises(MemoryLimitExceeded) as e:
        pool.run("query", _spec("SELECT DISTINCT ?a ?d ?c ?f { ?a ?b ?c . ?d ?e ?f } ORDER BY DESC(?f) LIMIT 5"),
                 timeout=30, max_memory=200 << 20)
    assert e.value.status == 503 and "memory limit of 200 MiB" in e.value.message
    assert time.monotonic() - t0 < 10
    pool.close()


def test_an_evaluator_that_crashes_costs_one_answer(zygote):
    """Oxigraph's parser overflows its stack on deep nesting (SIGSEGV): the evaluator dies, the
    caller gets an error, and the next job gets a fresh evaluator."""
    pool = Pool(zygote.path)
    with pytest.raises(errors.EvaluationError):
        pool.run("query", _spec("SELECT * WHERE " + "{" * 20000 + "}" * 20000), timeout=10, max_memory=None)
    header, body = pool.run("query", _spec("ASK { ?s ?p ?o }"), timeout=5, max_memory=None)
    assert json.loads(body)["boolean"] is True
    pool.close()


# -- the real server --------------------------------------------------------------------------------
def _server_tree(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(p) for p in out]
    return kids + [k for kid in kids for k in _server_tree(kid)]


def test_every_process_that_serves_requests_is_outside_the_hosts_network(live_server):
    mine = os.readlink("/proc/self/ns/net")
    requests.get(live_server.sparql, params={"query": "ASK {}"}, timeout=10)  # at least one evaluator
    tree = _server_tree(live_server.process.pid)
    assert len(tree) >= 3  # zygote, two web workers (and evaluators)
    outside = [pid for pid in tree if os.path.exists(f"/proc/{pid}") and os.readlink(f"/proc/{pid}/ns/net") == mine]
    assert outside == [], f"processes still in the host's network namespace: {outside}"


def test_a_memory_runaway_gets_503_and_normal_queries_keep_answering(live_server):
    runaway = {"query": "SELECT DISTINCT ?a ?d ?c ?f { ?a ?b ?c . ?d ?e ?f } ORDER BY DESC(?f) LIMIT 5"}
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(requests.post, live_server.sparql, data=runaway, timeout=30)
        time.sleep(0.2)
        quick = [pool.submit(requests.get, live_server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
                 for _ in range(5)]
        assert [f.result().status_code for f in quick] == [200] * 5
        r = slow.result()
    assert r.status_code == 503, r.text
    assert "limit" in r.text


def test_deep_nesting_never_takes_a_worker_down(live_server):
    for query in ("SELECT * WHERE " + "{" * 6000 + "}" * 6000,
                  "SELECT * WHERE { FILTER(" + "(" * 6000 + "1" + ")" * 6000 + ") }",
                  "SELECT * WHERE { " + "OPTIONAL { ?s ?p ?o " * 3000 + "}" * 3000 + " }"):
        r = requests.post(live_server.sparql, data={"query": query}, timeout=30)
        assert r.status_code in (400, 413), (r.status_code, r.text[:200])  # refused before the engine parses
        assert requests.get(live_server.sparql, params={"query": "ASK {}"}, timeout=10).status_code == 200


def test_a_chunked_body_over_the_limit_gets_413_and_is_not_run(live_server):
    # the fixture's --max-body is 20,000 bytes; the cut-off query would be valid
    def chunks():
        yield b"query=" + requests.utils.quote("ASK { ?s ?p ?o } #").encode()
        for _ in range(30):
            yield b"x" * 1000

    r = requests.post(live_server.sparql, data=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"},
                      timeout=30)
    assert r.status_code == 413, (r.status_code, r.text)
    small = requests.post(live_server.sparql, data=iter([b"query=ASK%20%7B%7D"]),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert small.status_code == 200, small.text  # a chunked body under the limit is read whole


def test_head_behaves_like_get(live_server):
    params = {"query": "ASK { ?s ?p ?o }"}
    get = requests.get(live_server.sparql, params=params, timeout=10)
    head = requests.head(live_server.sparql, params=params, timeout=10)
    assert head.status_code == get.status_code == 200
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.content == b""
    assert requests.head(live_server.sparql, timeout=10).status_code == 200  # the Service Description


def test_slow_clients_do_not_block_normal_queries(live_server):
    """100 connections that send half a request head or half a body and then stall."""
    port = int(live_server.url.rsplit(":", 1)[1])
    stalled = []
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /sparql HTTP/1.1\r\nHost: x\r\n" if i % 2 else
                  b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                  b"Content-Length: 100\r\n\r\nASK")
        stalled.append(s)
    try:
        worst = 0.0
        for _ in range(10):
            t0 = time.monotonic()
            r = requests.get(live_server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
            worst = max(worst, time.monotonic() - t0)
            assert r.status_code == 200
        assert worst < 1.0, worst
    finally:
        for s in stalled:
            s.close()


# -- federation through the gateway: allowed endpoints only -----------------------------------------
class _Remote(BaseHTTPRequestHandler):
    calls: list = []

    def _answer(self):
        _Remote.calls.append(self.path)
        body = json.dumps({"head": {"vars": ["x"]},
                           "results": {"bindings": [{"x": {"type": "literal", "value": "from-remote"}}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def remote():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Remote)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()


def test_allow_service_reaches_the_allowed_endpoint_and_nothing_else(remote, listener, config, tmp_path):
    from live_server import start_server

    server = start_server(["--workers", "1", "--allow-service", remote], tmp_path / "server.log",
                          root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
    try:
        r = requests.post(server.sparql, data={"query": f"SELECT ?x WHERE {{ SERVICE <{remote}> {{ ?x ?p ?o }} }}"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert r.status_code == 200, r.text
        assert [b["x"]["value"] for b in r.json()["results"]["bindings"]] == ["from-remote"]
        assert _Remote.calls, "the remote endpoint was not called"
        # the gateway forwards by index only: its other paths are not a proxy to anywhere
        gateway = [line for line in server.log_text().splitlines() if "SERVICE gateway" in line]
        assert gateway, server.log_text()[-2000:]
        before = len(listener.connections)
        r = requests.post(server.sparql, data={"query": f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"},
                          timeout=30)
        assert r.status_code == 400
        time.sleep(0.3)
        assert len(listener.connections) == before
    finally:
        server.stop()


def test_no_sandbox_is_refused_without_the_flag_where_namespaces_fail():
    """The isolation is not optional by accident: `isolate_network` raises a clear error when the
    kernel refuses, and `serve` turns it into an exit with the message (here: a seccomp-less probe
    that unshare itself works, so only the message is checked)."""
    from chainkg.sparql.sandbox import SandboxError

    code = ("import ctypes, chainkg.sparql.sandbox as s\n"
            "s._libc = type('L', (), {'unshare': staticmethod(lambda f: -1)})()\n"
            "try:\n    s.isolate_network()\nexcept s.SandboxError as e:\n    print('REFUSED', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30).stdout
    assert out.startswith("REFUSED") and "--no-sandbox" in out
    assert issubclass(SandboxError, RuntimeError)


def test_result_caches_are_bounded_by_bytes_whatever_the_clients_ask():
    """4,000 distinct results (as many distinct queries or Host values would make) never hold more
    than the cache's byte budget; a single oversized result is served but not kept."""
    from types import SimpleNamespace

    from chainkg.sparql.limits import ResultCache

    cache = ResultCache(entries=10_000, max_bytes=1 << 20, max_entry=100_000)
    for i in range(4000):
        cache.put(("q", i), SimpleNamespace(body=b"x" * 5000))
        assert cache.nbytes <= 1 << 20
    assert 150 <= len(cache) <= 210  # about 1 MiB / 5 kB: the newest entries are the ones kept
    assert cache.get(("q", 3999)) is not None and cache.get(("q", 0)) is None
    cache.put("big", SimpleNamespace(body=b"x" * 200_000))
    assert cache.get("big") is None


def test_body_limit_alone_refuses_what_the_app_behind_it_would_run():
    """BodyLimit on its own (Flask's MAX_CONTENT_LENGTH would hide it in an app test): over the
    limit 413 (chunked or declared), a bad Content-Length 400, a stalled body 408, and a body under
    the limit reaches the app whole, as a plain body with its length."""
    import io

    from chainkg.web.serve import BodyLimit

    seen = []

    def app(environ, start_response):
        seen.append((environ["wsgi.input"].read(), environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")))
        start_response("200 OK", [])
        return [b"ran"]

    def call(body: bytes, **env):
        status = []
        environ = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body), **env}
        out = b"".join(BodyLimit(app, max_body=100, timeout=5)(environ, lambda s, h: status.append(s)))
        return status[0], out

    assert call(b"x" * 101, CONTENT_LENGTH="101")[0].startswith("413")

    class Unread(io.RawIOBase):  # a declared length over the limit is refused before the body is read
        def read(self, n=-1):
            raise AssertionError("the body was read")

    status = []
    BodyLimit(app, max_body=100, timeout=5)({"REQUEST_METHOD": "POST", "wsgi.input": Unread(), "CONTENT_LENGTH": "5000"},
                                            lambda s, h: status.append(s))
    assert status[0].startswith("413")
    assert call(b"x" * 500, HTTP_TRANSFER_ENCODING="chunked")[0].startswith("413")
    assert call(b"x", CONTENT_LENGTH="1e3")[0].startswith("400")
    assert not seen  # none of those reached the app
    status, out = call(b"query=ASK%7B%7D", HTTP_TRANSFER_ENCODING="chunked")
    assert status.startswith("200") and out == b"ran" and seen == [(b"query=ASK%7B%7D", "15", None)]

    class Stalled(io.RawIOBase):
        def read(self, n=-1):
            raise TimeoutError("the client stopped sending")

    status = []
    environ = {"REQUEST_METHOD": "POST", "wsgi.input": Stalled(), "CONTENT_LENGTH": "50"}
    BodyLimit(app, max_body=100, timeout=5)(environ, lambda s, h: status.append(s))
    assert status[0].startswith("408") and len(seen) == 1
