"""Issue 16, item 3: the guarantees no test watched, each one now tested through its real path.

- the row limit at exactly N and N+1 rows, in every result format (the fast path included), with
  the truncation marker of each format (header, JSON `truncated`, XML link);
- the saved-query API's time limit over HTTP: 503, and the evaluator is killed;
- a repeated single-value parameter is a 400, never "the last one wins";
- ETags differ whenever the answer differs (query, `inferred`, graphs, format, parameters, page)
  on every route that sends one, and a conditional request never gets 304 for another answer;
- the API's body cap; `chainkg build --force`; `chainkg serve --server granian`;
- in CI, a missing ../shared/sources or W3C manifest fails instead of skipping.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from chainkg.sparql.engine import run_query
from chainkg.sparql.formats import GRAPH_FORMATS, RESULT_FORMATS
from conftest import ROOT, make_project
from live_server import CHAINKG, start_server

TRUNCATED = "X-Result-Truncated"
RESULT_TYPES = {f.name: f.media_type for f in RESULT_FORMATS}
GRAPH_TYPES = {f.name: f.media_type for f in GRAPH_FORMATS}


# -- counting rows in each format -----------------------------------------------------------------
def rows_in(body: bytes, fmt: str) -> int:
    if fmt == "json":
        return len(json.loads(body)["results"]["bindings"])
    if fmt == "xml":
        return body.count(b"<result>")
    if fmt == "csv":
        return sum(1 for _ in csv.reader(io.StringIO(body.decode()))) - 1
    if fmt == "tsv":
        return len(body.decode().rstrip("\n").split("\n")) - 1
    rdf = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES, "jsonld": ox.RdfFormat.JSON_LD,
           "rdfxml": ox.RdfFormat.RDF_XML, "trig": ox.RdfFormat.TRIG, "nquads": ox.RdfFormat.N_QUADS}[fmt]
    return len(list(ox.parse(body, format=rdf)))


def marker_in(body: bytes, fmt: str) -> bool:
    """The in-body truncation marker of a format (CSV, TSV and graphs have only the header)."""
    if fmt == "json":
        return json.loads(body).get("truncated") is True
    if fmt == "xml":
        return b'<link href="urn:chainkg:truncated"/>' in body
    return False


def values_query(n: int, *, awkward: bool = False) -> str:
    """A SELECT of exactly n rows. awkward: two columns, one unbound, and literals holding a
    newline, a tab, braces and a comma, so that no format's cheap row count is exact."""
    if not awkward:
        return "SELECT ?i WHERE { VALUES ?i { " + " ".join(str(i) for i in range(n)) + " } }"
    rows = " ".join(f'({i} "a{{b}}\\n,c\\t{i}")' if i % 2 else f"({i} UNDEF)" for i in range(n))
    return f"SELECT ?i ?s WHERE {{ VALUES (?i ?s) {{ {rows} }} }}"


# -- the row limit, in process (every path of serialize_results) ----------------------------------
N = 7


@pytest.mark.parametrize("fmt", list(RESULT_TYPES))
@pytest.mark.parametrize("awkward", [False, True], ids=["plain", "awkward"])
def test_row_limit_at_exactly_n_and_n_plus_one_in_every_result_format(kg, fmt, awkward):
    exact = run_query(kg, values_query(N, awkward=awkward), formats=[fmt], max_rows=N, timeout=None)
    assert (rows_in(exact.body, fmt), exact.truncated, marker_in(exact.body, fmt)) == (N, False, False)
    over = run_query(kg, values_query(N + 1, awkward=awkward), formats=[fmt], max_rows=N, timeout=None)
    assert rows_in(over.body, fmt) == N
    assert over.truncated is True
    if fmt in ("json", "xml"):
        assert marker_in(over.body, fmt), over.body[:300]


@pytest.mark.parametrize("fmt", list(GRAPH_TYPES))
def test_triple_limit_at_exactly_n_and_n_plus_one_in_every_graph_format(kg, fmt):
    q = "CONSTRUCT { ?s <urn:p> ?i } WHERE { VALUES ?i { %s } BIND(IRI(CONCAT('urn:x', STR(?i))) AS ?s) }"
    exact = run_query(kg, q % " ".join(map(str, range(N))), formats=[fmt], max_rows=N, timeout=None)
    assert (rows_in(exact.body, fmt), exact.truncated) == (N, False)
    over = run_query(kg, q % " ".join(map(str, range(N + 1))), formats=[fmt], max_rows=N, timeout=None)
    assert (rows_in(over.body, fmt), over.truncated) == (N, True)


# -- the row limit over HTTP (the live server allows 500 rows) ------------------------------------
@pytest.mark.parametrize("fmt", list(RESULT_TYPES))
def test_row_limit_over_http_in_every_result_format(live_server, fmt):
    for n, truncated in ((500, False), (501, True)):
        r = requests.get(live_server.sparql, params={"query": f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o }} LIMIT {n}"},
                         headers={"Accept": RESULT_TYPES[fmt]}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith(RESULT_TYPES[fmt])
        assert rows_in(r.content, fmt) == 500
        assert (r.headers.get(TRUNCATED) == "true") is truncated, (n, dict(r.headers))
        assert r.headers.get("X-Result-Limit") == "500"
        if fmt in ("json", "xml"):
            assert marker_in(r.content, fmt) is truncated


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "nquads"])
def test_triple_limit_over_http(live_server, fmt):
    for n, truncated in ((500, False), (501, True)):
        r = requests.get(live_server.sparql, params={"query": f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }} LIMIT {n}"},
                         headers={"Accept": GRAPH_TYPES[fmt]}, timeout=30)
        assert r.status_code == 200, r.text
        assert rows_in(r.content, fmt) == 500
        assert (r.headers.get(TRUNCATED) == "true") is truncated


def test_the_api_page_size_is_capped_by_the_row_limit(live_server):
    url = live_server.url + "/api/queries/search-labels"
    assert requests.get(url, params={"q": "a", "limit": 500}, timeout=30).status_code == 200
    r = requests.get(url, params={"q": "a", "limit": 501}, timeout=30)
    assert r.status_code == 400 and r.json()["parameter"] == "limit"


# -- repeated single-value parameters -------------------------------------------------------------
@pytest.mark.parametrize("query_string, parameter", [
    ("q=%E9%9D%92%E5%B2%9B&q=chip", "q"),  # 青岛 and chip
    ("q=chip&language=en&language=zh", "language"),
])
def test_a_repeated_single_value_parameter_is_a_400_naming_it(live_server, query_string, parameter):
    r = requests.get(live_server.url + "/api/queries/search-labels?" + query_string, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["parameter"] == parameter
    # each value once is fine: the 400 is for the repetition
    once = requests.get(live_server.url + "/api/queries/search-labels", params={"q": "chip", "language": "en"}, timeout=30)
    assert once.status_code == 200


def test_a_repeated_list_parameter_is_a_list(live_server):
    """Repeating a list parameter gives every value (not the last one): the union of the answers."""
    laoshan, jimo = "https://w3id.org/chainkg/id/laoshan-district", "https://w3id.org/chainkg/id/jimo-district"

    def enterprises(*districts):
        r = requests.get(live_server.url + "/api/queries/enterprises-by-district",
                         params=[("district", d) for d in districts], headers=JSON_RESULTS, timeout=30)
        assert r.status_code == 200, r.text
        return {(b["district"]["value"], b["enterprise"]["value"]) for b in r.json()["results"]["bindings"]}

    both, first, last = enterprises(laoshan, jimo), enterprises(laoshan), enterprises(jimo)
    assert first and both == first | last


@pytest.mark.parametrize("query_string", ["limit=5&limit=6", "offset=0&offset=3", "format=json&format=csv"])
def test_a_repeated_control_parameter_of_the_api_is_a_400(live_server, query_string):
    r = requests.get(live_server.url + "/api/queries/search-labels?q=chip&" + query_string, timeout=30)
    assert r.status_code == 400, (r.status_code, r.text[:200])


@pytest.mark.parametrize("params", [
    [("query", "ASK {}"), ("query", "ASK { ?s ?p ?o }")],
    [("query", "ASK {}"), ("inferred", "false"), ("inferred", "true")],
])
def test_a_repeated_single_value_parameter_of_the_endpoint_is_a_400(live_server, params):
    r = requests.get(live_server.sparql, params=params, timeout=30)
    assert r.status_code == 400, r.text


def test_the_api_body_cap(live_server):
    r = requests.post(live_server.url + "/api/queries/search-labels", data={"q": "x" * 30_000}, timeout=30)
    assert r.status_code == 413
    r = requests.post(live_server.url + "/api/queries/search-labels", data={"q": "chip"}, timeout=30)
    assert r.status_code == 200


# -- ETags ----------------------------------------------------------------------------------------
def _get(url: str, variant: dict, etag: str | None = None) -> requests.Response:
    headers = dict(variant.get("headers", {}))
    if etag:
        headers["If-None-Match"] = etag
    return requests.get(url + variant.get("path", ""), params=variant.get("params"), headers=headers, timeout=30)


def assert_etags_follow_the_answer(url: str, variants: list[dict]) -> None:
    """Each variant gets 200 with an ETag; its own ETag gives 304; any two variants of one path whose
    bodies differ have different ETags, and one's ETag sent with the other gives 200 and its own body."""
    got = []
    for v in variants:
        r = _get(url, v)
        assert r.status_code == 200, (v, r.status_code, r.text[:300])
        etag = r.headers.get("ETag")
        assert etag, (v, dict(r.headers))
        again = _get(url, v, etag)
        assert again.status_code == 304, (v, again.status_code)
        got.append((v, r.content, etag))
    for i, (v1, body1, tag1) in enumerate(got):
        for v2, body2, tag2 in got[i + 1:]:
            if body1 == body2 or v1.get("path") != v2.get("path"):
                continue  # an ETag identifies a representation of one URL (query string and headers vary)
            assert tag1 != tag2, f"same ETag {tag1} for different answers:\n{v1}\n{v2}"
            cross = _get(url, v2, tag1)
            assert cross.status_code == 200 and cross.content == body2, (v1, v2, cross.status_code)


COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
ONTOLOGY_G = "https://w3id.org/chainkg/graph/ontology"
BACKGROUND_G = "https://w3id.org/chainkg/graph/background"
JSON_RESULTS = {"Accept": "application/sparql-results+json"}


def test_sparql_etags_vary_with_query_inferred_graphs_and_format(live_server):
    def count(**params) -> int:
        r = requests.get(live_server.sparql, params={"query": COUNT, **params}, headers=JSON_RESULTS, timeout=30)
        return int(r.json()["results"]["bindings"][0]["n"]["value"])

    # the answers differ (a cache keyed like a too-coarse ETag would hand one the other's answer)
    everything, asserted = count(), count(inferred="false")
    ontology, background = count(**{"default-graph-uri": ONTOLOGY_G}), count(**{"default-graph-uri": BACKGROUND_G})
    assert everything > asserted > ontology > background > 0
    assert_etags_follow_the_answer(live_server.sparql, [
        {"params": {"query": COUNT}, "headers": JSON_RESULTS},
        {"params": {"query": COUNT, "inferred": "false"}, "headers": JSON_RESULTS},
        {"params": {"query": COUNT, "default-graph-uri": ONTOLOGY_G}, "headers": JSON_RESULTS},
        {"params": {"query": COUNT, "default-graph-uri": BACKGROUND_G}, "headers": JSON_RESULTS},
        {"params": {"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "named-graph-uri": BACKGROUND_G},
         "headers": JSON_RESULTS},
        {"params": {"query": COUNT}, "headers": {"Accept": "text/csv"}},
        {"params": {"query": COUNT, "format": "xml"}},
        {"params": {"query": COUNT + " LIMIT 1"}, "headers": JSON_RESULTS},
    ])


def test_service_description_etags_vary_with_format(live_server):
    assert_etags_follow_the_answer(live_server.sparql, [
        {"headers": {"Accept": "text/turtle"}},
        {"headers": {"Accept": "application/n-triples"}},
        {"params": {"format": "jsonld"}},
    ])


def test_saved_query_etags_vary_with_parameters_page_and_format(live_server):
    assert_etags_follow_the_answer(live_server.url + "/api/queries/search-labels", [
        {"params": {"q": "青岛"}, "headers": JSON_RESULTS},
        {"params": {"q": "chip"}, "headers": JSON_RESULTS},
        {"params": {"q": "chip", "language": "en"}, "headers": JSON_RESULTS},
        {"params": {"q": "chip", "limit": 2}, "headers": JSON_RESULTS},
        {"params": {"q": "chip", "limit": 2, "offset": 1}, "headers": JSON_RESULTS},
        {"params": {"q": "chip"}, "headers": {"Accept": "text/csv"}},
        {"params": {"q": "chip", "format": "tsv"}},
    ])


@pytest.mark.parametrize("path, variants", [
    ("/.well-known/void", [{"headers": {"Accept": "text/turtle"}}, {"headers": {"Accept": "application/n-triples"}},
                           {"headers": {"Accept": "application/ld+json"}}, {"path": ".nt"}]),
    ("/ontology", [{"headers": {"Accept": "text/html", "Accept-Language": "en"}},
                   {"headers": {"Accept": "text/html", "Accept-Language": "zh"}},
                   {"headers": {"Accept": "text/turtle"}}, {"headers": {"Accept": "application/n-triples"}}]),
    ("/dumps/", [{"headers": {"Accept": "text/html", "Accept-Language": "en"}},
                 {"headers": {"Accept": "text/html", "Accept-Language": "zh"}}]),
    ("/dumps/index", [{"path": ".json"}, {"path": ".html"}]),
    ("/id/qingdao", [{"headers": {"Accept": "text/html", "Accept-Language": "en"}},
                     {"headers": {"Accept": "text/html", "Accept-Language": "zh"}},
                     {"headers": {"Accept": "text/turtle"}}, {"headers": {"Accept": "application/ld+json"}}]),
])
def test_linked_data_etags_vary_with_format_and_language(live_server, path, variants):
    assert_etags_follow_the_answer(live_server.url + path, variants)


def test_every_dump_file_has_its_own_etag_and_answers_304(live_server):
    listing = requests.get(live_server.url + "/dumps/index.json", timeout=60).json()["dumps"]
    files = [d["file"] for d in listing][:4]
    assert len(files) >= 2
    tags = set()
    for name in files:
        r = requests.get(f"{live_server.url}/dumps/{name}", timeout=60)
        assert r.status_code == 200 and r.headers.get("ETag")
        assert requests.get(f"{live_server.url}/dumps/{name}", headers={"If-None-Match": r.headers["ETag"]},
                            timeout=60).status_code == 304
        tags.add(r.headers["ETag"])
    assert len(tags) == len(files)


# -- the saved-query API's time limit, over HTTP ---------------------------------------------------
RUNAWAY = """\
#+ title: A runaway
#+ description: Test query that would run for hours.
SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }
"""


@pytest.fixture(scope="module")
def runaway_server(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("runaway"), queries={"runaway.rq": RUNAWAY,
                                                                     "quick.rq": "#+ title: Quick\nASK { ?s ?p ?o }\n"})
    server = start_server(["--workers", "1", "--timeout", "1"], root / "server.log",
                          root_args=["--root", str(root), "--build-dir", str(root / "build")])
    yield server
    server.stop()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # killed; at most waiting for its parent to reap it


def test_the_saved_query_api_time_limit_answers_503_and_kills_the_evaluator(runaway_server):
    t0 = time.monotonic()
    r = requests.get(runaway_server.url + "/api/queries/runaway", timeout=20)
    elapsed = time.monotonic() - t0
    assert r.status_code == 503, r.text
    assert "time limit" in r.json()["error"]
    assert elapsed < 6, elapsed
    time.sleep(0.3)
    killed = re.findall(r"evaluator (\d+) killed: the query passed the time limit", runaway_server.log_text())
    assert killed, runaway_server.log_text()[-2000:]
    assert all(_gone(int(pid)) for pid in killed)
    # and the server answers the next request
    ok = requests.get(runaway_server.url + "/api/queries/quick", headers=JSON_RESULTS, timeout=20)
    assert ok.status_code == 200 and ok.json()["boolean"] is True


# -- the command line -----------------------------------------------------------------------------
def test_build_force_rebuilds_what_the_cache_would_serve(tmp_path):
    root = make_project(tmp_path / "p")
    cmd = [CHAINKG, "--root", str(root), "--build-dir", str(tmp_path / "b"), "build"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "validate" in first.stdout and "(cached)" not in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "(cached)" in second.stdout and "validate" not in second.stdout
    forced = subprocess.run(cmd + ["--force"], capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr
    assert "validate" in forced.stdout and "reason" in forced.stdout and "(cached)" not in forced.stdout
    version = re.search(r"version (\w+):", first.stdout).group(1)
    assert f"version {version}:" in forced.stdout  # same inputs, same version


def test_build_force_still_stops_on_bad_inputs_and_keeps_the_good_cache(tmp_path):
    root = make_project(tmp_path / "p")
    cmd = [CHAINKG, "--root", str(root), "--build-dir", str(tmp_path / "b"), "build"]
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=300).returncode == 0
    saved = sorted(p.name for p in (tmp_path / "b").iterdir())
    trig = root / "triples" / "900_test.trig"
    trig.write_text(trig.read_text(encoding="utf-8").replace("ck:tenantOf id:test-park ;", "ck:tenantOf id:test-park"),
                    encoding="utf-8")
    broken = subprocess.run(cmd + ["--force"], capture_output=True, text=True, timeout=300)
    assert broken.returncode == 1 and "900_test.trig" in broken.stderr
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == saved


def test_serve_with_granian(config, tmp_path):
    server = start_server(["--server", "granian", "--workers", "1", "--threads", "2", "--timeout", "2",
                           "--max-rows", "5", "--max-body", "20000"], tmp_path / "granian.log",
                          root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
    try:
        r = requests.get(server.sparql, params={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 6"}, headers=JSON_RESULTS,
                         timeout=30)
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]["bindings"]) == 5 and r.headers.get(TRUNCATED) == "true"
        assert "granian" in r.headers.get("server", "").lower() or "granian" in server.log_text().lower()
        t0 = time.monotonic()
        slow = requests.get(server.sparql, params={"query": "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"},
                            timeout=30)
        assert slow.status_code == 503 and time.monotonic() - t0 < 8
        assert requests.post(server.sparql, data={"query": "ASK {}", "pad": "x" * 30_000}, timeout=30).status_code == 413
        assert requests.get(server.url + "/api/queries/search-labels", params={"q": "chip"}, timeout=30).status_code == 200
        assert requests.post(server.sparql, data={"update": "CLEAR ALL"}, timeout=30).status_code == 403
    finally:
        server.stop()


# -- a missing input fails in CI, skips elsewhere -------------------------------------------------
def _pytest(args: list[str], env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=ROOT / "tests", env={**base, **env}, capture_output=True, text=True, timeout=300)


def test_missing_sources_skip_outside_ci_and_fail_in_ci(config):
    env = {"CHAINKG_SOURCES": "/nonexistent/sources", "CHAINKG_TEST_CACHE": str(config.cache_dir)}
    target = ["test_evidence.py::test_every_quote_is_verbatim_in_its_article"]
    local = _pytest(target, env)
    assert local.returncode == 0 and "1 skipped" in local.stdout and "source articles not found" in local.stdout
    ci = _pytest(target, {**env, "CI": "true"})
    assert ci.returncode == 1 and ("1 failed" in ci.stdout or "1 error" in ci.stdout), ci.stdout[-2000:]
    assert "source articles not found" in ci.stdout and "skipped" not in ci.stdout


def test_missing_w3c_manifests_skip_outside_ci_and_fail_in_ci():
    env = {"CHAINKG_W3C": "/nonexistent/w3c"}
    local = _pytest(["test_w3c_protocol.py"], env)
    # the module is skipped whole: pytest says 5 (nothing collected) when it is the only one asked for
    assert local.returncode in (0, 5) and "1 skipped" in local.stdout and "W3C SPARQL test manifests not found" in local.stdout
    ci = _pytest(["test_w3c_protocol.py"], {**env, "CI": "1"})
    assert ci.returncode not in (0, 5) and "W3C SPARQL test manifests not found" in ci.stdout and "skipped" not in ci.stdout


# -- what the scanner and the result cache promise, in process --------------------------------------
def test_the_scanner_names_what_it_refuses(kg):
    from chainkg.sparql.errors import QueryRefused, QuerySyntaxError

    with pytest.raises(QueryRefused, match="cannot read"):
        run_query(kg, "SELECT * WHERE { SERVICE {} }", timeout=None)
    with pytest.raises(QuerySyntaxError, match="expected SELECT, ASK, CONSTRUCT or DESCRIBE"):
        run_query(kg, "PREFIX ex: <http://example.org/>", timeout=None)


def test_the_result_cache_evicts_the_least_recently_used():
    from chainkg.sparql.limits import ResultCache

    cache = ResultCache(entries=3, size=lambda v: 10)
    for k in "abc":
        cache.put(k, k)
    assert cache.get("a") == "a"  # a is now the most recently used
    cache.put("d", "d")
    assert [cache.get(k) for k in "abcd"] == ["a", None, "c", "d"]


def test_a_list_parameter_takes_at_most_a_hundred_values():
    from chainkg.sparql.saved import MAX_LIST_ITEMS, Parameter, ParameterError

    p = Parameter(name="district", type="list", items="string")
    assert len(p.to_terms([str(i) for i in range(MAX_LIST_ITEMS)])) == MAX_LIST_ITEMS == 100
    with pytest.raises(ParameterError, match="more than 100"):
        p.to_terms([str(i) for i in range(MAX_LIST_ITEMS + 1)])
    with pytest.raises(ParameterError, match="more than 100"):
        p.to_terms([",".join(str(i) for i in range(MAX_LIST_ITEMS + 1))])  # comma-separated counts too


def test_q_values_above_one_are_one():
    from chainkg.sparql.formats import negotiate

    offers = ["application/sparql-results+json", "text/csv"]
    assert negotiate("text/csv;q=5, application/sparql-results+json", offers) == offers[0]  # a tie: the first offer
    assert negotiate("text/csv;q=-1", offers) is None


@pytest.mark.parametrize("validator", ["oxigraph", "pyshacl"])
def test_validation_reports_every_violation_not_the_first(tmp_path, validator):
    """Three independent faults in one project (a thing without labels, a quantity without its
    wording, a claim without its quote): each is reported, each under its own path."""
    from chainkg.build.load import load
    from chainkg.build.validate import validate
    from chainkg.config import Config
    from conftest import MINI_TRIG

    trig = (MINI_TRIG
            .replace('rdfs:label "测试买家"@zh , "Test Buyer"@en ; skos:prefLabel "测试买家"@zh ;', "")
            .replace(' ; ck:originalWording "约6亿元"@zh ] .', " ] .")
            .replace(' ; ck:evidence "测试产业园位于崂山区"@zh .', " ."))
    assert trig.count("ck:evidence") == 1 and "originalWording" not in trig and '"Test Buyer"' not in trig
    root = make_project(tmp_path / "p", trig)
    config = Config(root=root, build_dir=root / "build", validator=validator)  # both engines, the reference too
    report = validate(load(config), config)
    paths = {str(f.path).strip("<>").rsplit("#", 1)[-1] for f in report.violations}
    assert {"originalWording", "evidence"} <= paths, report.format()
    assert any(str(f.focus).strip("<>").endswith("/test-buyer") for f in report.violations), report.format()
