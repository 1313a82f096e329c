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
