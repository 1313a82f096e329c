"""Ontology lint: every term labelled and defined in zh and en, header complete, OWL 2 RL only."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from conftest import ROOT

CK = "https://w3id.org/chainkg/ontology#"
ONTOLOGY = URIRef("https://w3id.org/chainkg/ontology")
VANN = "http://purl.org/vocab/vann/"
DCT = "http://purl.org/dc/terms/"


@pytest.fixture(scope="module")
def onto() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def terms(g: Graph) -> list[URIRef]:
    return sorted({s for s in g.subjects() if isinstance(s, URIRef) and str(s).startswith(CK)})


def test_header(onto):
    assert (ONTOLOGY, RDF.type, OWL.Ontology) in onto
    for p in (OWL.versionIRI, OWL.versionInfo, URIRef(VANN + "preferredNamespacePrefix"),
              URIRef(VANN + "preferredNamespaceUri"), URIRef(DCT + "license"), URIRef(DCT + "description")):
        assert onto.value(ONTOLOGY, p) is not None, f"ontology header lacks {p}"


def test_every_term_is_labelled_and_defined_in_zh_and_en(onto):
    problems = []
    for t in terms(onto):
        for prop in (RDFS.label, SKOS.definition):
            langs = {o.language for o in onto.objects(t, prop)}
            for lang in ("zh", "en"):
                if lang not in langs:
                    problems.append(f"{t} has no {prop.n3(onto.namespace_manager)}@{lang}")
        if (t, RDFS.isDefinedBy, ONTOLOGY) not in onto:
            problems.append(f"{t} lacks rdfs:isDefinedBy <{ONTOLOGY}>")
        if not list(onto.objects(t, RDF.type)):
            problems.append(f"{t} is used but never declared (no rdf:type)")
    assert not problems, "\n".join(problems)


def test_labels_unique_per_language(onto):
    for t in terms(onto):
        langs = [o.language for o in onto.objects(t, RDFS.label)]
        assert len(langs) == len(set(langs)), f"{t} has two labels in one language"


def test_stays_in_owl2_rl(onto):
    # constructs outside OWL 2 RL that owlrl/reasonable would silently ignore
    banned = [OWL.unionOf, OWL.complementOf, OWL.oneOf, OWL.minCardinality, OWL.cardinality]
    used = [b for b in banned if list(onto.subject_objects(b))]
    assert not used, f"non-RL constructs: {used}"
    # owl:hasKey trips owlrl (every instance sameAs every other): never in our ontology
    assert not list(onto.subject_objects(OWL.hasKey))


def test_alignments_do_not_load_external_vocabularies_whole(onto):
    # we only point at ORG/PROV/schema terms; we never declare their terms ourselves
    foreign = {s for s in onto.subjects(RDF.type, None) if isinstance(s, URIRef)
               and not str(s).startswith(("https://w3id.org/chainkg/",))}
    assert not foreign, f"external terms declared here: {sorted(foreign)[:5]}"
