"""Saved-query parameters are typed RDF terms bound through substitutions, never pasted text."""

from __future__ import annotations

import pytest

from chainkg.build.pipeline import build
from chainkg.sparql.saved import ParameterError, load_queries, parse_query_file

INJECTIONS = [
    'x" } ; DROP ALL ; #',
    "1 } UNION { ?s ?p ?o",
    "<http://evil> } ?s ?p ?o {",
    "青岛市\" } UNION { ?x ?label ?o } #",
]

QUERY = """\
#+ title: Things with a label
#+ description: Find the things labelled with a given name.
#+ tags: [test]
#+ params:
#+   - {name: name, type: string, lang: zh, default: "青岛市", description: the label}
#+   - {name: place, type: iri, default: "https://w3id.org/chainkg/id/qingdao"}
#+   - {name: n, type: integer, default: 5}
#+   - {name: share, type: decimal, default: "0.5"}
#+   - {name: day, type: date, default: "2024-04-01"}
#+   - {name: kind, type: enum, enum: ["https://w3id.org/chainkg/ontology#City", "https://w3id.org/chainkg/ontology#District"], default: "https://w3id.org/chainkg/ontology#City"}
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX ck: <https://w3id.org/chainkg/ontology#>
SELECT ?thing ?label WHERE {
  ?thing rdfs:label ?name ; rdfs:label ?label ; a ?kind .
  OPTIONAL { ?thing ck:locatedIn ?place }
}
"""


@pytest.fixture
def setup(mini_config):
    (mini_config.queries_dir / "things.rq").write_text(QUERY, encoding="utf-8")
    ds = build(mini_config).dataset
    return ds, load_queries(mini_config.queries_dir)["things"]


def run(ds, q, **params):
    return ds.select(q.sparql, substitutions=q.bindings(params))


def test_header_is_parsed(setup):
    _, q = setup
    assert q.title == "Things with a label" and q.form == "SELECT" and "test" in q.tags
    assert [p.name for p in q.params] == ["name", "place", "n", "share", "day", "kind"]
    assert q.param("n").type == "integer"


def test_default_binding_answers(setup):
    ds, q = setup
    rows = run(ds, q)
    assert {r["label"] for r in rows} == {"青岛市", "Qingdao"}


@pytest.mark.parametrize("evil", INJECTIONS)
def test_string_injection_is_just_an_odd_value(setup, evil):
    ds, q = setup
    assert run(ds, q, name=evil) == []  # no label equals the odd string: no rows, not all rows


@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize("param", ["place", "n", "share", "day", "kind"])
def test_typed_injection_is_refused_naming_the_parameter(setup, evil, param):
    ds, q = setup
    with pytest.raises(ParameterError) as e:
        q.bindings({param: evil})
    assert e.value.name == param


def test_unknown_parameter_is_refused(setup):
    _, q = setup
    with pytest.raises(ParameterError, match="unknown parameter"):
        q.bindings({"nmae": "x"})


def test_query_text_is_unchanged_by_binding(setup):
    _, q = setup
    before = q.sparql
    q.bindings({"name": INJECTIONS[0]})
    assert q.sparql == before


def test_bad_header_is_reported(tmp_path):
    p = tmp_path / "bad.rq"
    p.write_text("#+ params:\n#+   - {name: 'x y', type: iri}\nSELECT * {}\n")
    with pytest.raises(Exception, match="bad parameter name"):
        parse_query_file(p)


@pytest.mark.parametrize("query", [
    'PREFIX a: <http://x/w> # a comment with a brace {\nCONSTRUCT { ?s <http://p> "{" } WHERE { ?s ?p ?o }',
    "SELECT (IF(?a < 3, 1, 2) AS ?x) WHERE { ?s ?p ?a }",
    'SELECT ?s WHERE { ?s ?p """a { b""" }',
])
def test_values_block_lands_in_the_where_group(query):
    import pyoxigraph as ox

    from chainkg.sparql.saved import inject_values

    out = inject_values(query, {ox.Variable("s"): ox.Literal('x" } ; DROP ALL ; #')})
    where = out.index("WHERE") if "CONSTRUCT" in query else 0
    assert out.index("VALUES") > out.index("{", where)
    assert '"x\\" } ; DROP ALL ; #"' in out
    ox.Store().query(out)  # still one valid query


LIST_QUERY = """\
#+ title: Places in a list
#+ params:
#+   - {name: place, type: list, items: iri, description: places}
#+   - {name: label, type: list, items: string, lang: en}
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?place ?l WHERE {
  VALUES ?place { UNDEF }
  VALUES ?label { UNDEF }
  ?place rdfs:label ?l . FILTER (lang(?l) = "en")
  FILTER (!BOUND(?label) || ?l = ?label)
}
"""


@pytest.fixture
def listed(mini_config):
    (mini_config.queries_dir / "places.rq").write_text(LIST_QUERY, encoding="utf-8")
    return build(mini_config).dataset, load_queries(mini_config.queries_dir)["places"]


def run_prepared(ds, q, **params):
    text, subs = q.prepare(params)
    return ds.select(text, substitutions=subs)


def test_an_empty_list_leaves_the_variable_free(listed):
    ds, q = listed
    assert len(run_prepared(ds, q)) > 10  # every place with an English label


def test_a_list_binds_its_values_as_a_values_block(listed):
    ds, q = listed
    qd, ls = "https://w3id.org/chainkg/id/qingdao", "https://w3id.org/chainkg/id/laoshan-district"
    assert {r["l"] for r in run_prepared(ds, q, place=[qd, ls])} == {"Qingdao", "Laoshan District"}
    assert run_prepared(ds, q, place=f"{qd},{ls}") == run_prepared(ds, q, place=[qd, ls])
    assert [r["l"] for r in run_prepared(ds, q, label=["Qingdao"])] == ["Qingdao"]
    text, _ = q.prepare({"place": [qd]})
    assert f"VALUES ?place {{ <{qd}> }}" in text and "VALUES ?label { UNDEF }" in text


@pytest.mark.parametrize("evil", INJECTIONS)
def test_list_injection_is_refused_or_an_odd_literal(listed, evil):
    ds, q = listed
    everything = len(run_prepared(ds, q))
    with pytest.raises(ParameterError) as e:
        q.prepare({"place": [evil]})
    assert e.value.name == "place"
    rows = run_prepared(ds, q, label=[evil])  # a string: one escaped literal (commas split it: still literals)
    assert len(rows) < everything
    text, _ = q.prepare({"label": [evil]})
    assert "DROP ALL" not in text or '\\" } ; DROP ALL' in text  # the quote is escaped inside the literal


def test_list_needs_exactly_one_placeholder(tmp_path):
    p = tmp_path / "bad.rq"
    p.write_text("#+ params:\n#+   - {name: x, type: list, items: iri}\nSELECT * { ?s ?p ?x }\n")
    with pytest.raises(Exception, match=r"VALUES \?x \{ UNDEF \}"):
        parse_query_file(p)


def test_reserved_names_and_bad_item_types_are_refused(tmp_path):
    p = tmp_path / "bad.rq"
    p.write_text("#+ params:\n#+   - {name: limit, type: integer}\nSELECT * {}\n")
    with pytest.raises(Exception, match="reserved"):
        parse_query_file(p)
    p.write_text("#+ params:\n#+   - {name: x, type: list, items: list}\nSELECT * { VALUES ?x { UNDEF } }\n")
    with pytest.raises(Exception, match="items must be one of"):
        parse_query_file(p)


@pytest.mark.parametrize("param,value", [("share", "1e999999999"), ("share", "Infinity"), ("day", "20240101"),
                                         ("day", "2024-W01-1"), ("place", "http://a b"), ("place", "http://[::1")])
def test_values_outside_the_plain_forms_are_refused(setup, param, value):
    _, q = setup
    with pytest.raises(ParameterError) as e:
        q.bindings({param: value})
    assert e.value.name == param


# -- issue 14, item 2: parameters are bound as terms at places found before any value is written --
TWO_LISTS = """\
#+ title: Things by names and tags
#+ params:
#+   - {name: names, type: list, items: string}
#+   - {name: tags, type: list, items: string, lang: en}
#+   - {name: place, type: iri, default: "https://w3id.org/chainkg/id/qingdao"}
#+   - {name: n, type: integer, default: 5}
#+   - {name: share, type: decimal, default: "0.5"}
#+   - {name: day, type: date, default: "2024-04-01"}
#+   - {name: year, type: year, default: "2024"}
#+   - {name: kind, type: enum, enum: ["a", "b}"], default: "a"}
#+   - {name: places, type: list, items: iri}
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?thing ?label WHERE {
  VALUES ?names { UNDEF }
  ?thing rdfs:label ?label .
  VALUES ?tags { UNDEF }
  OPTIONAL { ?thing <http://x/in> ?place ; <http://x/n> ?n ; <http://x/share> ?share ; <http://x/day> ?day ;
             <http://x/year> ?year ; <http://x/kind> ?kind }
  VALUES ?places { UNDEF }
}
"""


@pytest.fixture(scope="module")
def two_lists(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "two.rq"
    path.write_text(TWO_LISTS, encoding="utf-8")
    return parse_query_file(path)


def _shape(text: str) -> str:
    """The parse tree of a query (rdflib's SPARQL parser: an independent reading of the grammar),
    with every IRI and literal reduced to its kind."""
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    out: list[str] = []

    def walk(node):
        if isinstance(node, CompValue):
            out.append("(" + node.name)
            for k, v in node.items():
                out.append(k)
                walk(v)
            out.append(")")
        elif isinstance(node, list | tuple) or type(node).__name__ == "ParseResults":
            out.append("[")
            for x in node:
                walk(x)
            out.append("]")
        else:
            out.append(type(node).__name__)

    walk(parseQuery(text))
    return " ".join(out)


def _neutral(q, values: dict) -> dict:
    """Harmless values of the same types and counts as `values` (the reference structure)."""
    neutral = {}
    for name, raw in values.items():
        p = q.param(name)
        if p.type == "list":
            n = len(p.to_terms(raw))
            neutral[name] = [{"iri": "http://n/"}.get(p.items, "n")] * n
        else:
            neutral[name] = {"iri": "http://n/", "integer": "1", "decimal": "1.5", "date": "2000-01-01",
                             "year": "2000", "enum": "a"}.get(p.type, "n")
    return neutral


def _assert_same_structure(q, values: dict) -> str:
    from chainkg.sparql.guard import inspect_query

    text = q.bind(values)
    shape = _shape(text)
    assert shape == _shape(q.bind(_neutral(q, values)))
    assert shape.count("(InlineData") == 4  # the three lists' blocks and the scalars' one, whatever the values
    assert "Service" not in shape and inspect_query(text).services == []
    return text


def test_issue_14_second_list_placeholder_cannot_be_forged_by_the_first(two_lists):
    """The issue's reproduction: with two lists, the second placeholder used to be found inside the
    first list's value, and the second value then wrote a SERVICE into the query."""
    import pyoxigraph as ox

    evil = {"names": ["VALUES ?tags { UNDEF }"], "tags": ["} SERVICE <http://127.0.0.1:9/x> { ?c ?b ?d } VALUES ?z {"]}
    text = _assert_same_structure(two_lists, evil)
    assert '"VALUES ?tags { UNDEF }"' in text
    assert '"} SERVICE <http://127.0.0.1:9/x> { ?c ?b ?d } VALUES ?z {"@en' in text
    assert list(ox.Store().query(text)) == []  # runs, calls nothing (no listener on port 9 is needed: no SERVICE)


def test_a_bound_query_never_calls_a_service(two_lists):
    """End to end on the engine: the issue's values, run by pyoxigraph, leave a listener silent."""
    import socket

    import pyoxigraph as ox

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(0.3)
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/x"
        text = two_lists.bind({"names": ["VALUES ?tags { UNDEF }"], "tags": [f"}} SERVICE <{url}> {{ ?c ?b ?d }} VALUES ?z {{"],
                               "places": [url]})
        list(ox.Store().query(text))
        with pytest.raises(TimeoutError):
            srv.accept()


def test_every_insertion_is_planned_on_the_saved_text(two_lists):
    text = two_lists.bind({"names": ["a"], "tags": ["b"], "places": ["http://p/"]})
    assert text.index('VALUES (?place ?n ?share ?day ?year ?kind)') < text.index('VALUES ?names { "a" }') \
        < text.index('VALUES ?tags { "b"@en }') < text.index("VALUES ?places { <http://p/> }")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NASTY = st.sampled_from(['}', '>', '"', "'", '\\u0022', '\\', '\n', '#', 'VALUES', '{', 'SERVICE <http://127.0.0.1:9/>',
                         '"""', "'''", '\\"', ' UNDEF ', '?tags', '<', '\r', '\u2028', '\x00', ',', 'é', '青岛'])
VALUE = st.lists(st.one_of(NASTY, st.text(max_size=12)), max_size=6).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional={name: VALUE for name in
                                           ("place", "n", "share", "day", "year", "kind")}),
       st.fixed_dictionaries({}, optional={name: st.lists(VALUE, max_size=4) for name in ("names", "tags", "places")}))
def test_no_value_of_any_type_changes_the_query_structure(two_lists, scalars, lists):
    """Hypothesis writes braces, quotes, escapes, newlines, comments and keywords into every
    parameter: each value is refused naming its parameter, or bound as terms with the query's
    structure unchanged (rdflib's parse tree) and no SERVICE in it."""
    from chainkg.sparql.saved import ParameterError

    values = {**scalars, **lists}
    try:
        text = _assert_same_structure(two_lists, values)
    except ParameterError as e:
        assert e.name in values
        return
    import pyoxigraph as ox

    ox.Store().query(text)  # and the engine parses it


@pytest.mark.parametrize("param,value", [("year", "٢٠٢٤"), ("n", "١٢"), ("share", "١.٥"), ("day", "٢٠٢٤-٠١-٠١")])
def test_non_ascii_digits_are_refused_not_bound_as_ill_typed_literals(two_lists, param, value):
    """Issue 14 item 12: a year in Arabic-Indic digits used to become "٢٠٢٤"^^xsd:gYear."""
    with pytest.raises(ParameterError) as e:
        two_lists.bindings({param: value})
    assert e.value.name == param


def test_a_saved_query_may_not_call_a_service(tmp_path):
    p = tmp_path / "fed.rq"
    p.write_text("SELECT * WHERE { SERVICE <http://127.0.0.1:9/x> { ?s ?p ?o } }\n")
    with pytest.raises(Exception, match="SERVICE"):
        parse_query_file(p)
