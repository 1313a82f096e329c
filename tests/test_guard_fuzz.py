"""A grammar-aware fuzzer for the query scanner (issue 14, item 10).

Hypothesis writes SERVICE (every spelling the engine accepts: any case, SILENT, glued to the
token before or after it, escaped) with targets of every kind (IRIs, escaped IRIs, prefixed names,
BASE-relative IRIs, prefixed names whose expansion is not an IRI) into every place the grammar
allows a graph pattern (top level, OPTIONAL, UNION, MINUS, GRAPH, subqueries, EXISTS), mixed with
strings of all four kinds, comments, IRIs holding `#` and `'`, less-than comparisons that look
like IRIs, and nesting. The oracle is the engine itself: the queries run on an empty
`pyoxigraph.Store()` in a subprocess, against a loopback listener that records which query's
target path it was asked for. A query that reached the listener and that the scanner did not
refuse is a failure; so is a subprocess that dies.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainkg.sparql.errors import QueryError
from chainkg.sparql.guard import check_bounds, check_query, inspect_query
from conftest import Listener

RUNNER = r"""
import json, sys
import pyoxigraph as ox
store = ox.Store()
for q in json.load(sys.stdin):
    try:
        r = store.query(q)
        if not isinstance(r, ox.QueryBoolean):
            for _ in r:
                pass
    except Exception:
        pass
print("done")
"""


def contacted(queries: list[str], listener: Listener) -> set[int]:
    """Indexes of the queries whose target path (/q{index}) the engine asked the listener for.
    Runs them all in one subprocess, which must finish normally."""
    before = len(listener.paths)
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(queries), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "done" in proc.stdout, (proc.returncode, proc.stderr[-2000:])
    hits = set()
    for path in listener.paths[before:]:
        digits = path.rsplit("/q", 1)[-1].split("?")[0].split("/")[0]
        hits.add(int(digits) if digits.isdigit() else -1)
    return hits


def refused(query: str) -> bool:
    try:
        check_bounds(query, 100_000, 128)
        check_query(inspect_query(query))
    except QueryError:
        return True
    return False


# -- the grammar ---------------------------------------------------------------------------------
PROLOGUE = ("PREFIX e: <http://127.0.0.1:{port}/>\nPREFIX x: <http://x:>\nBASE <http://127.0.0.1:{port}/>\n"
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n")


def targets():
    """Every way to name http://127.0.0.1:PORT/qN (PORT and N filled in later)."""
    return st.sampled_from([
        "<http://127.0.0.1:{port}/q{n}>", "<http://127.0.0.1:{port}/\\u0071{n}>", "<\\u0068ttp://127.0.0.1:{port}/q{n}>",
        "e:q{n}", "<q{n}>", "<./q{n}>", "<//127.0.0.1:{port}/q{n}>", "e:\\u0071{n}",
    ])


KEYWORD = st.sampled_from(["SERVICE", "service", "SeRvIcE", "SERVICE SILENT", "service silent", "SERVICESILENT",
                           "SERVICE#c\n", "SERVICE\nSILENT#c\n", "\\u0053ERVICE", "SERV\\u0049CE"])
GAP = st.sampled_from([" "] * 6 + ["", "\n", "\t", " #x\n", "#'\n", '#"""\n', " # SERVICE <http://127.0.0.1:9/> {}\n"])
GLUE = st.sampled_from([" "] * 12 + ["", "true", "false", "1", "1.5e3", ".", ";", "}", "?o.", '"x"', "'y'@en", "<http://a/>",
                        "e:a", "x:", "1.", ")", "]"])
STRING = st.sampled_from(["'a'", '"b"', "'''c\nd'''", '"""e\nf"""', "'it\\'s'", '"\\u0022"', "'\\u0027'", '"#"',
                          "'}'", '"SERVICE <http://127.0.0.1:9/> {}"', "'''it's'''", '"a\\\\"', "''", '""'])
IRI = st.sampled_from(["<http://a/it's#x>", "<http://a/\\u0041#>", "<http://a/#>", "<http://a/(>", "<http://a/'>",
                       "<http://a/SERVICE>", "<a#>", "<http://a/\\u0027>", "<http://a/[>"])
TRICK = st.sampled_from(["FILTER(?a<'x>')", "FILTER(?x<2)#>'''\n", "FILTER(?x<2)#>\n", "FILTER(?a<'#')",
                         "FILTER(?a<\"x>\")", "FILTER(?a <= 3)", "BIND(1 AS ?a)", "FILTER(1<2)", "FILTER(?a<3&&?b>2)",
                         "FILTER(?a<b#>)\n", "?s e:a\\' ?o .", "?s e:a\\# ?o .", "?s ?p ?o .", "VALUES ?v { 1 }"])


@st.composite
def service(draw, n: int):
    kw, target = draw(KEYWORD), draw(targets()).replace("{n}", str(n))
    glue_before = draw(GLUE)
    sep = draw(GAP)
    if not kw.endswith(("\n", " ")) and sep == "" and target[0] not in "<?":
        sep = " "  # SERVICEe:x is a test of its own (GLUE), a missing space here only makes noise
    return f"{glue_before}{kw}{sep}{target}{draw(GAP)}{{ ?s ?p ?o }}"


@st.composite
def element(draw, n: int, depth: int = 0):
    kind = draw(st.integers(0, 9 if depth < 3 else 4))
    if kind == 0:
        return draw(service(n))
    if kind == 1:
        return f"?s ?p {draw(STRING)} ."
    if kind == 2:
        return f"?s ?p {draw(IRI)} ."
    if kind == 3:
        return draw(TRICK)
    if kind == 4:
        return "#" + draw(st.sampled_from(["", "'", "'''", '"', "<", "SERVICE"])) + "\n"
    inner = " ".join(draw(st.lists(element(n, depth + 1), min_size=1, max_size=4)))
    wrap = ["{{ {} }}", "OPTIONAL {{ {} }}", "{{ {} }} UNION {{ {} }}", "MINUS {{ {} }}", "GRAPH ?g {{ {} }}",
            "{{ SELECT * WHERE {{ {} }} }}", "FILTER EXISTS {{ {} }}", "FILTER NOT EXISTS {{ {} }}"][kind - 5 + (draw(st.integers(0, 3)) if kind == 9 else 0)]
    return wrap.format(inner, inner) if wrap.count("{}") == 2 else wrap.format(inner)


@st.composite
def query(draw, n: int):
    body = " ".join(draw(st.lists(element(n), min_size=1, max_size=5)))
    tail = draw(st.sampled_from(["", " #'", ' #"""', "\n#'''"]))
    return PROLOGUE + "SELECT * WHERE { " + body + " }" + tail


def _check_batch(batch: list[str], listener: Listener) -> None:
    queries = [q.replace("{port}", str(listener.port)) for q in batch]
    hits = contacted(queries, listener)
    assert -1 not in hits, "a request for a path no query names"
    missed = [queries[i] for i in sorted(hits) if not refused(queries[i])]
    assert not missed, f"the engine called a service the scanner let through: {missed[:3]}"


def _batch(count: int) -> list[str]:
    """`count` generated queries (query i names the path /q{i})."""
    out: list[str] = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data):
        out.append(data.draw(query(len(out))))

    collect()
    return out


def test_known_bypasses_reach_the_engine_and_are_refused(listener):
    """The oracle works: these reach the listener when run, and the scanner refuses every one."""
    queries = [PROLOGUE + q for q in [
        "SELECT ?x WHERE { OPTIONAL { ?s ?p <http://a/\\u0041#> } SERVICE <http://127.0.0.1:{port}/q0> { ?x ?b ?c } }",
        "SELECT * { ?s ?p x:SERVICE <http://127.0.0.1:{port}/q1> { } }",
        "SELECT * { ?s ?p trueSERVICE <http://127.0.0.1:{port}/q2> { } }",
        "SELECT * { SERVICEe:q3 { } }",
        "SELECT * { SERVICESILENT<http://127.0.0.1:{port}/q4> { } }",
        'SELECT * { ?s ?p "\\u0022" . SERVICE <http://127.0.0.1:{port}/q5> { } } # """',
        "SELECT * { ?s ?p 1SERVICE <q6> { } }",
        "SELECT * { { BIND(1 AS ?a) FILTER(?a<'x>') } UNION { SERVICE <http://127.0.0.1:{port}/q7> { } } } #'",
    ]]
    queries = [q.replace("{port}", str(listener.port)) for q in queries]
    assert contacted(queries, listener) == set(range(len(queries)))
    assert all(refused(q) for q in queries)


def test_fuzz_generated_queries_never_reach_the_network_unrefused(listener):
    batch = _batch(300)
    assert len(batch) >= 100
    _check_batch(batch, listener)


@pytest.mark.slow
def test_fuzz_ten_thousand_queries(listener):
    done = 0
    while done < 10_000:
        batch = _batch(500)
        _check_batch(batch, listener)
        done += len(batch)
