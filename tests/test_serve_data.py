"""Issue #11 item 7: `chainkg serve --data FILE[=GRAPH]` serves other files right.

Relative IRIs in Turtle, RDF/XML and TriG files resolve against the file's own file:// URL (or
--base); N-Triples and N-Quads allow absolute IRIs only (as their specs say), so a relative one
is a clear error naming the file and line, not a crash. The default graph is the files' unnamed
graph, as the SPARQL 1.1 dataset rules define; --union-default-graph asks for the union instead.
Every check goes through the real server over HTTP.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import rdflib
import requests

from live_server import CHAINKG, free_port, start_server

EX = "http://example.org/vocab#"
JSON = "application/sparql-results+json"
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")

FILES = {
    # Turtle: <> is the document, <#alice> a fragment of it, <friends.ttl#bob> a sibling file
    "people.ttl": f"""@prefix ex: <{EX}> .
<> ex:title "the Turtle file" .
<#alice> ex:name "Alice" ; ex:knows <friends.ttl#bob> .
""",
    # RDF/XML: rdf:about="" and rdf:resource="" are the document itself
    "doc.rdf": f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="{EX}">
  <rdf:Description rdf:about="">
    <ex:title>the RDF/XML file</ex:title>
    <ex:seeAlso rdf:resource=""/>
  </rdf:Description>
  <rdf:Description rdf:about="#carol"><ex:name>Carol</ex:name></rdf:Description>
</rdf:RDF>
""",
    # TriG: an unnamed graph and a named graph whose name is relative too
    "graphs.trig": f"""@prefix ex: <{EX}> .
<> ex:title "the TriG file" .
<#g1> {{ <#dave> ex:name "Dave" . }}
""",
    # N-Triples: absolute IRIs only (a relative one is an error, see below)
    "plain.nt": f'<http://example.org/erin> <{EX}name> "Erin" .\n',
    # loaded into a named graph with =GRAPH
    "named.ttl": f"""@prefix ex: <{EX}> .
<> ex:title "the named file" .
""",
    # a base the file declares itself wins over the file's URL and over --base
    "declared.ttl": f"""@prefix ex: <{EX}> .
@base <http://example.org/declared/> .
<thing> ex:title "the file with @base" .
""",
}
NAMED_GRAPH = "http://example.org/graphs/named?x=1"  # an IRI holding '=' too
AGAIN_GRAPH = "http://example.org/graphs/again"  # plain.nt once more: its triple in two graphs


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("serve-data")
    for name, text in FILES.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def data_args(folder: Path) -> list[str]:
    args = []
    for name in FILES:
        spec = str(folder / name) + (f"={NAMED_GRAPH}" if name == "named.ttl" else "")
        args += ["--data", spec]
    return args


def url(folder: Path, name: str) -> str:
    return (folder / name).resolve().as_uri()


@pytest.fixture(scope="module")
def unnamed(folder, tmp_path_factory):
    s = start_server(data_args(folder) + ["--workers", "1"], tmp_path_factory.mktemp("unnamed") / "server.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def union(folder, tmp_path_factory):
    s = start_server(data_args(folder) + ["--data", f"{folder / 'plain.nt'}={AGAIN_GRAPH}", "--workers", "1",
                                          "--union-default-graph"], tmp_path_factory.mktemp("union") / "server.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def based(folder, tmp_path_factory):
    s = start_server(data_args(folder) + ["--workers", "1", "--base", "http://example.org/base/"],
                     tmp_path_factory.mktemp("based") / "server.log")
    yield s
    s.stop()


def select(server, query: str, **params) -> list[dict]:
    r = requests.post(server.sparql, data={"query": f"PREFIX ex: <{EX}>\n{query}", **params},
                      headers={"Accept": JSON}, timeout=30)
    assert r.status_code == 200, r.text
    return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]


def titles(server, query: str = "SELECT ?s ?t WHERE { ?s ex:title ?t }", **params) -> dict[str, str]:
    return {row["t"]: row["s"] for row in select(server, query, **params)}


# -- relative IRIs resolve against the file's URL -----------------------------------------------------
def test_relative_iris_resolve_against_each_files_url(unnamed, folder):
    got = titles(unnamed)
    assert got["the Turtle file"] == url(folder, "people.ttl")
    assert got["the RDF/XML file"] == url(folder, "doc.rdf")
    assert got["the TriG file"] == url(folder, "graphs.trig")
    assert got["the file with @base"] == "http://example.org/declared/thing"  # the file's own @base wins
    assert got["the Turtle file"].startswith("file:///") and got["the Turtle file"].endswith("/people.ttl")
    people = url(folder, "people.ttl")
    assert select(unnamed, "SELECT ?a ?b WHERE { ?a ex:knows ?b }") == [
        {"a": people + "#alice", "b": url(folder, "friends.ttl") + "#bob"}]
    doc = url(folder, "doc.rdf")
    assert select(unnamed, "SELECT ?s ?o WHERE { ?s ex:seeAlso ?o }") == [{"s": doc, "o": doc}]  # rdf:resource=""
    assert {r["n"]: r["s"] for r in select(unnamed, "SELECT ?s ?n WHERE { ?s ex:name ?n }")} == {
        "Alice": people + "#alice", "Carol": doc + "#carol", "Erin": "http://example.org/erin"}


def test_a_trig_graph_name_is_resolved_too_and_stays_a_named_graph(unnamed, folder):
    trig = url(folder, "graphs.trig")
    rows = select(unnamed, "SELECT ?g ?s WHERE { GRAPH ?g { ?s ex:name 'Dave' } }")
    assert rows == [{"g": trig + "#g1", "s": trig + "#dave"}]


def test_base_option_replaces_the_files_url(based):
    got = titles(based)
    base = "http://example.org/base/"
    assert got["the Turtle file"] == got["the RDF/XML file"] == got["the TriG file"] == base
    assert got["the file with @base"] == "http://example.org/declared/thing"
    assert {r["n"]: r["s"] for r in select(based, "SELECT ?s ?n WHERE { ?s ex:name ?n }")}["Alice"] == base + "#alice"


# -- the default graph follows the SPARQL 1.1 dataset rules -------------------------------------------
def test_the_default_graph_is_the_unnamed_graph(unnamed, folder):
    got = titles(unnamed)
    assert "the named file" not in got  # it is in a named graph ...
    assert "Dave" not in {r["n"] for r in select(unnamed, "SELECT ?n WHERE { ?s ex:name ?n }")}  # so is TriG's <#g1>
    rows = select(unnamed, "SELECT ?g ?s WHERE { GRAPH ?g { ?s ex:title ?t } }")
    assert rows == [{"g": NAMED_GRAPH, "s": url(folder, "named.ttl")}]  # ... reached with GRAPH
    assert titles(unnamed, f"SELECT ?s ?t FROM <{NAMED_GRAPH}> WHERE {{ ?s ex:title ?t }}") == {
        "the named file": url(folder, "named.ttl")}  # or FROM
    assert titles(unnamed, **{"default-graph-uri": NAMED_GRAPH}) == {"the named file": url(folder, "named.ttl")}


def test_union_default_graph_is_asked_for_by_a_flag(union, folder):
    got = titles(union)
    assert got["the named file"] == url(folder, "named.ttl")
    assert got["the Turtle file"] == url(folder, "people.ttl")  # the unnamed graph is part of the union
    assert "Dave" in {r["n"] for r in select(union, "SELECT ?n WHERE { ?s ex:name ?n }")}
    # distinct: a triple is counted once however many graphs hold it (plain.nt is loaded twice: into
    # the unnamed graph and into AGAIN_GRAPH; a multiset union would give Erin two rows)
    erin = "SELECT ?g WHERE { GRAPH ?g { ?s ex:name 'Erin' } }"
    assert [r["g"] for r in select(union, erin)] == [AGAIN_GRAPH]  # the named one (+ the unnamed graph)
    assert select(union, "SELECT ?s WHERE { ?s ex:name 'Erin' }") == [{"s": "http://example.org/erin"}]
    n = select(union, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]
    assert int(n) == len(select(union, "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o }"))


def service_description(server) -> rdflib.Graph:
    r = requests.get(server.sparql, headers={"Accept": "text/turtle"}, timeout=30)
    assert r.status_code == 200, r.text
    return rdflib.Graph().parse(data=r.text, format="turtle")


def test_the_service_description_says_which_default_graph(unnamed, union):
    features = set(service_description(unnamed).objects(None, SD.feature))
    assert SD.UnionDefaultGraph not in features
    assert SD.UnionDefaultGraph in set(service_description(union).objects(None, SD.feature))
    comment = " ".join(str(c) for c in service_description(unnamed).objects(None, rdflib.RDFS.comment))
    assert "unnamed graph" in comment


# -- bad input is a clear error, not a crash ---------------------------------------------------------
def serve_fails(args: list[str]) -> str:
    """`chainkg serve ARGS` must exit 1 with one error line, quickly, without serving."""
    p = subprocess.run([CHAINKG, "serve", "--port", str(free_port()), *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    return p.stderr


def test_a_relative_iri_in_n_triples_is_a_clear_error(tmp_path):
    bad = tmp_path / "relative.nt"
    bad.write_text(f'<http://example.org/a> <{EX}p> "1" .\n<> <{EX}p> "2" .\n')
    err = serve_fails(["--data", str(bad)])
    assert f"--data {bad}: not valid N-Triples" in err and "line 2" in err, err
    assert "absolute IRIs only" in err and ".ttl" in err, err  # and what to do about it
    same = tmp_path / "relative.ttl"
    same.write_text(bad.read_text())  # the same lines as Turtle resolve against the file
    assert len(select_in_process([str(same)], f"SELECT ?s {{ ?s <{EX}p> '2' }}")) == 1


def select_in_process(specs: list[str], query: str, **kwargs) -> list[dict]:
    from chainkg.build.datafiles import load_files

    return load_files(specs, **kwargs).select(query)


@pytest.mark.parametrize("args, message", [
    (["--base", "relative/path"], "--base must be an absolute IRI"),
    (["--data", "{folder}/people.ttl=not an iri"], "the graph after '=' must be an absolute IRI"),
    (["--data", "{folder}/nothing-here.ttl"], "no such file"),
    (["--data", "{folder}/graphs.trig=http://example.org/g"], "a quad format keeps its own graphs"),
    (["--data", "{folder}/notes.txt"], "unknown RDF format of extension '.txt'"),
    (["--data", "{folder}/broken.ttl"], "not valid Turtle"),
])
def test_bad_data_options_are_one_line_errors(folder, args, message):
    (folder / "notes.txt").write_text("not RDF\n")
    (folder / "broken.ttl").write_text("<a> <b> .\n")
    args = [a.format(folder=folder) for a in args]
    if "--data" not in args:
        args += ["--data", str(folder / "people.ttl")]
    err = serve_fails(args)
    assert message in err, err
    assert err.startswith("error: "), err


# -- the version (ETags) ------------------------------------------------------------------------------
def test_the_same_bytes_at_another_path_are_another_version(tmp_path):
    """people.ttl's relative IRIs resolve against its URL: the same bytes in two folders are two
    datasets (other IRIs), so a result's ETag differs and one server's ETag is no 304 at the other."""
    servers, tags, bodies = [], [], []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "people.ttl").write_text(FILES["people.ttl"], encoding="utf-8")
            servers.append(start_server(["--data", str(tmp_path / name / "people.ttl"), "--workers", "1",
                                         "--public-url", "http://example.org"], tmp_path / f"{name}.log"))
        query = {"query": f"PREFIX ex: <{EX}> SELECT ?s WHERE {{ ?s ex:title ?t }}"}
        for s in servers:
            r = requests.post(s.sparql, data=query, headers={"Accept": JSON}, timeout=30)
            assert r.status_code == 200, r.text
            tags.append(r.headers["ETag"])
            bodies.append(r.json()["results"]["bindings"][0]["s"]["value"])
        assert bodies == [url(tmp_path / "a", "people.ttl"), url(tmp_path / "b", "people.ttl")]
        assert tags[0] != tags[1], tags
        r = requests.post(servers[1].sparql, data=query, headers={"Accept": JSON, "If-None-Match": tags[0]},
                          timeout=30)
        assert r.status_code == 200 and r.json()["results"]["bindings"][0]["s"]["value"] == bodies[1]
    finally:
        for s in servers:
            s.stop()
