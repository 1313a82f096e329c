"""The VoID description at /.well-known/void: valid RDF in every format, counts that match
`chainkg stats`, and the links a data engineer needs (endpoint, dumps, URI space, licence)."""

from __future__ import annotations

import json

import pytest
import requests
from rdflib import Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF

from store_serving import mark_known_difference
from test_dumps import cli
from test_linked_data import ACCEPT, ld_config, ld_dataset, ld_project, ld_server, parse  # noqa: F401


@pytest.fixture(autouse=True)
def _store_differences(request):
    mark_known_difference(request)

VOID = Namespace("http://rdfs.org/ns/void#")
BASE = "https://w3id.org/chainkg/"
DATASET = URIRef(BASE + "dataset")
LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")


@pytest.fixture(scope="module")
def void(ld_server):  # noqa: F811
    r = requests.get(ld_server + "/.well-known/void", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    return parse(r.content, "ttl")


@pytest.fixture(scope="module")
def stats(ld_project):  # noqa: F811
    return json.loads(cli(ld_project, "stats", "-o", "json"))


def value(g, s, p) -> int:
    return int(g.value(s, p))


def test_void_counts_match_chainkg_stats(void, stats):
    assert (DATASET, RDF.type, VOID.Dataset) in void
    assert value(void, DATASET, VOID.triples) == stats["distinct_triples"]
    subsets = {str(s): s for s in void.objects(DATASET, VOID.subset)}
    for graph, n in stats["graphs"].items():
        assert value(void, subsets[graph], VOID.triples) == n
    claims = subsets[BASE + "dataset#claims"]
    assert value(void, claims, VOID.triples) == stats["claim_triples"]
    groups = subsets[BASE + "dataset#derivation-graphs"]  # the derivation groups' graphs, together
    assert value(void, groups, VOID.triples) == stats["derivation_graph_triples"] > 0
    assert not any(g.startswith(BASE + "derivation/") for g in subsets)  # not one subset each
    per_source = {str(void.value(s, DCTERMS.source)): value(void, s, VOID.triples) for s in void.objects(claims, VOID.subset)}
    assert per_source == {src: d["triples"] for src, d in stats["claims_per_source"].items()}
    partitions = {str(void.value(p, VOID["class"])): value(void, p, VOID.entities) for p in void.objects(DATASET, VOID.classPartition)}
    assert partitions == stats["entities_per_class"]


def test_void_counts_match_the_data(void, ld_dataset):  # noqa: F811
    n = lambda q: int(ld_dataset.select(q)[0]["n"])  # noqa: E731
    assert value(void, DATASET, VOID.entities) == n(
        "SELECT (COUNT(DISTINCT ?e) AS ?n) { { ?e ?p ?o } UNION { ?s ?p ?e } "
        f'FILTER(isIRI(?e) && STRSTARTS(STR(?e), "{BASE}id/")) }}')
    assert value(void, DATASET, VOID.classes) == n("SELECT (COUNT(DISTINCT ?c) AS ?n) { ?s a ?c }")
    assert value(void, DATASET, VOID.properties) == n("SELECT (COUNT(DISTINCT ?p) AS ?n) { ?s ?p ?o }")
    assert value(void, DATASET, VOID.distinctSubjects) == n("SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s ?p ?o }")


def test_void_links_endpoint_dumps_uri_space_licence_sources(void, ld_server):  # noqa: F811
    assert void.value(DATASET, VOID.sparqlEndpoint) == URIRef(ld_server + "/sparql")
    assert void.value(DATASET, VOID.uriSpace) == Literal(BASE + "id/")
    assert URIRef(BASE + "id/qingdao") in set(void.objects(DATASET, VOID.exampleResource))
    assert (DATASET, DCTERMS.license, LICENSE) in void
    assert URIRef(BASE + "source/990_ld_test") in set(void.objects(DATASET, DCTERMS.source))
    vocabularies = {str(v) for v in void.objects(DATASET, VOID.vocabulary)}
    assert {BASE + "ontology#", "http://www.w3.org/2000/01/rdf-schema#", "http://www.w3.org/ns/prov#"} <= vocabularies
    dumps = sorted(str(d) for d in void.objects(DATASET, VOID.dataDump))
    assert len(dumps) == 6
    for url in dumps:
        assert requests.head(url).status_code == 200, url


@pytest.mark.parametrize("ext", ["jsonld", "nt", "rdf"])
def test_void_in_other_formats_is_the_same_graph(void, ld_server, ext):  # noqa: F811
    r = requests.get(ld_server + "/.well-known/void", headers={"Accept": ACCEPT[ext][0]})
    assert r.headers["Content-Location"] == f"/.well-known/void.{ext}"
    assert isomorphic(parse(r.content, ext), void)
    suffixed = requests.get(ld_server + f"/.well-known/void.{ext}")
    assert isomorphic(parse(suffixed.content, ext), void)


def test_dataset_iri_dereferences_to_the_void(void, ld_server):  # noqa: F811
    r = requests.get(ld_server + "/dataset", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and isomorphic(parse(r.content, "ttl"), void)
