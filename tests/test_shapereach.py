"""The shapes after an edit (issue #11): the focus nodes an edit can change (build/shapereach.py),
validated again, with the results of the others carried over, equal a validation of everything.

The real edits are test_incremental's: every file of triples/ taken out and put back. The small
cases below are the ones the real data does not reach or cannot tell apart: a result that changes on
a node the edit does not touch (a label shared with another node; containment further up a path;
a UNION inside a NOT EXISTS), a pattern not connected to the focus node, and the direction of a path
(a change at a hub reaches what the shape reads from it, not everything around it).
"""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from rdflib import Graph

from chainkg.build import shapereach
from chainkg.build.fastshacl import Shapes, Validator
from chainkg.build.load import load
from chainkg.build.validate import load_shapes
from test_incremental import without

FILES = ["000_ic_chain_netease", "001_ic_chain_zhengjieju", "002_parks_plan_2022", "003_parks_listed_2024",
         "004_ten_plus_one_2025", "background"]


def data_store(named: dict) -> ox.Store:
    """The data graph the validate step checks: the asserted graphs' union as the default graph."""
    store = ox.Store()
    for quads in named.values():
        store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
    return store


def triples(store: ox.Store) -> set:
    return {(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}


def rows(results: list) -> list:
    return sorted(json.dumps(r, ensure_ascii=False) for r in shapereach.dump_results(results))


def again(shapes_graph: Graph, before: ox.Store, after: ox.Store) -> tuple:
    """(the results revalidated after the edit, a whole validation after it, the affected nodes),
    the results before it carried as a build keeps them: JSON rows read back with another reading of
    the shapes (whose blank nodes have new labels)."""
    first, second = Shapes(shapes_graph), Shapes(shapes_graph)
    kept = json.loads(json.dumps(shapereach.dump_results(Validator(before, first).run())))
    old = shapereach.load_results(kept, second)
    old_t, new_t = triples(before), triples(after)
    out, hit = shapereach.revalidate(Validator(after, second), shapereach.reaches(second), old, before,
                                     old_t - new_t, new_t - old_t)
    return out, Validator(after, second).run(), hit


@pytest.fixture(scope="module")
def inputs(config):
    return load(config)


@pytest.fixture(scope="module")
def shapes_graph(config):
    return load_shapes(config)


@pytest.mark.parametrize("name", FILES)
def test_revalidation_equals_validating_again(config, inputs, shapes_graph, name):
    """A file taken out, then put back: both revalidations equal validating everything again."""
    whole, part = data_store(dict(inputs.quads)), data_store(without(inputs, config.triples_dir / f"{name}.trig"))
    for before, after in ((whole, part), (part, whole)):
        out, full, hit = again(shapes_graph, before, after)
        assert rows(Validator(before, Shapes(shapes_graph)).run()) != rows(full)  # the comparison can fail
        assert rows(out) == rows(full)
        assert shapereach.ALL not in hit.values()  # every shape of ours is followed, none validated whole


def test_a_few_focus_nodes_validate_as_every_node_does(inputs, shapes_graph):
    """run(only=...) looks each candidate up (targets, classes, paths, VALUES in the SPARQL): on every
    node of the data it gives what the bulk run gives; on the IRIs alone (the SPARQL restricted by
    VALUES, not filtered afterwards), the bulk run's results about IRIs."""
    store = data_store(dict(inputs.quads))
    shapes = Shapes(shapes_graph)
    full = Validator(store, shapes).run()
    nodes = {q.subject for q in store} | {q.object for q in store}
    assert rows(Validator(store, shapes).run(nodes)) == rows(full)
    iris = {n for n in nodes if isinstance(n, ox.NamedNode)}
    about_iris = [r for r in full if isinstance(r.focus, ox.NamedNode)]
    assert len(about_iris) < len(full)
    assert rows(Validator(store, shapes).run(iris)) == rows(about_iris)


# -- small cases -----------------------------------------------------------------------------
PREFIXES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
"""
SHAPES = PREFIXES + """
ex:prefixes sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^<http://www.w3.org/2001/XMLSchema#anyURI> ] ,
    [ sh:prefix "rdfs" ; sh:namespace "http://www.w3.org/2000/01/rdf-schema#"^^<http://www.w3.org/2001/XMLSchema#anyURI> ] .
ex:UniqueLabel a sh:NodeShape ; sh:targetSubjectsOf rdfs:label ;
    sh:sparql [ sh:message "shared label" ; sh:prefixes ex:prefixes ; sh:select
        "SELECT $this ?value WHERE { $this rdfs:label ?value . ?other rdfs:label ?value FILTER (?other != $this) }" ] .
ex:InCity a sh:NodeShape ; sh:targetClass ex:Site ;
    sh:property [ sh:path [ sh:oneOrMorePath ex:locatedIn ] ; sh:qualifiedValueShape [ sh:class ex:City ] ;
                  sh:qualifiedMinCount 1 ] .
ex:SameChain a sh:NodeShape ; sh:targetSubjectsOf ex:precedes, ex:follows ;
    sh:sparql [ sh:message "other chain" ; sh:prefixes ex:prefixes ; sh:select
        "SELECT $this ?value WHERE { { $this ex:precedes ?value } UNION { $this ex:follows ?value } FILTER NOT EXISTS { $this ex:in ?c . ?value ex:in ?c } }" ] .
"""


def store_of(turtle: str) -> ox.Store:
    store = ox.Store()
    store.load(input=PREFIXES + turtle, format=ox.RdfFormat.TURTLE)
    return store


def check(shapes_ttl: str, before: str, after: str) -> dict:
    out, full, hit = again(Graph().parse(data=shapes_ttl, format="turtle"), store_of(before), store_of(after))
    assert rows(out) == rows(full)
    return {str(shape).rsplit("/", 1)[-1]: nodes if nodes == shapereach.ALL else {n.value for n in nodes}
            for shape, nodes in hit.items()}


def test_a_label_reaches_the_node_that_shared_it():
    """ex:b takes ex:a's name: ex:a gets a result though the edit does not touch it."""
    hit = check(SHAPES, 'ex:a rdfs:label "x" . ex:b rdfs:label "y" .', 'ex:a rdfs:label "x" . ex:b rdfs:label "x" .')
    assert hit["UniqueLabel"] == {"http://example.org/a", "http://example.org/b"}


def test_containment_reaches_what_lies_inside():
    """The district leaves its city: the park inside it and the site inside the park lose their city;
    the other city's site is not asked again."""
    base = "ex:q a ex:City . ex:d ex:locatedIn ex:q . ex:p ex:locatedIn ex:d . ex:s a ex:Site ; ex:locatedIn ex:p . "
    other = "ex:r a ex:City . ex:t a ex:Site ; ex:locatedIn ex:r ."
    hit = check(SHAPES, base + other, base.replace("ex:d ex:locatedIn ex:q .", "") + other)
    assert "http://example.org/s" in hit["InCity"]
    assert "http://example.org/t" not in hit["InCity"]


def test_a_hub_is_not_a_way_in():
    """A new thing located in the city reaches itself, not everything else the city contains."""
    sites = " ".join(f"ex:s{i} a ex:Site ; ex:locatedIn ex:q ." for i in range(20))
    hit = check(SHAPES, "ex:q a ex:City . " + sites, "ex:q a ex:City . ex:new a ex:Site ; ex:locatedIn ex:q . " + sites)
    assert hit["InCity"] == {"http://example.org/new"}


@pytest.mark.parametrize("link", ["precedes", "follows"])
def test_a_union_inside_a_not_exists(link):
    """The other segment leaves the chain: the segment linked to it, reached through either branch of
    the UNION (each case has only one), is asked again."""
    before = f"ex:a ex:in ex:c ; ex:{link} ex:b . ex:b ex:in ex:c . "
    hit = check(SHAPES, before, before.replace("ex:b ex:in ex:c .", ""))
    assert "http://example.org/a" in hit["SameChain"]


def test_a_pattern_apart_from_the_focus_node_validates_everything():
    """A constraint reading a triple not connected to $this: any change can change every result."""
    shapes = PREFIXES + """
    ex:p sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^<http://www.w3.org/2001/XMLSchema#anyURI> ] .
    ex:Flag a sh:NodeShape ; sh:targetClass ex:Site ;
        sh:sparql [ sh:message "a stop flag is set" ; sh:prefixes ex:p ;
                    sh:select "SELECT $this WHERE { ?x ex:stop true }" ] ."""
    hit = check(shapes, "ex:s a ex:Site .", "ex:s a ex:Site . ex:z ex:stop true .")
    assert hit["Flag"] == shapereach.ALL


def test_path_steps_each_way():
    """positions() names each step of a path with what comes before and after it."""
    a, b = shapereach.step("http://example.org/a"), shapereach.step("http://example.org/b")
    path = shapereach.seq(a, shapereach.inv(b))
    assert shapereach.positions(path) == [(a[1], True, shapereach.EMPTY, shapereach.inv(b)),
                                          (b[1], False, a, shapereach.EMPTY)]
    star = ("star", a)
    assert shapereach.positions(star) == [(a[1], True, star, star)]
