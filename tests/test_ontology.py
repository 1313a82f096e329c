"""Ontology lint: every term labelled and defined in zh and en, header complete, external terms declared."""

from __future__ import annotations

import pytest
from rdflib import Dataset, Graph, URIRef
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


def test_no_has_key(onto):
    # owlrl's owl:hasKey rule has an off-by-one (every instance sameAs every other): never here.
    # The OWL 2 RL profile as a whole is checked by the OWL API in tests/test_owl_profile.py.
    assert not list(onto.subject_objects(OWL.hasKey))


def test_chain_leader_is_rl_and_note_is_not_a_comment(onto):
    # issue #15: the existential only on the subclass side; ck:note not under rdfs:comment
    assert not list(onto.objects(URIRef(CK + "ChainLeader"), OWL.equivalentClass))
    restriction = next(onto.subjects(RDFS.subClassOf, URIRef(CK + "ChainLeader")))
    assert (restriction, OWL.onProperty, URIRef(CK + "chainLeaderOf")) in onto
    assert (restriction, OWL.someValuesFrom, OWL.Thing) in onto
    assert not list(onto.objects(URIRef(CK + "note"), RDFS.subPropertyOf))


KINDS = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty}
BUILTIN = ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2000/01/rdf-schema#",
           "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2001/XMLSchema#")


def external(term) -> bool:
    return isinstance(term, URIRef) and not str(term).startswith(("https://w3id.org/chainkg/",) + BUILTIN)


def test_external_terms_are_declared_in_alignments_only_and_never_imported():
    alignments = Graph().parse(ROOT / "ontology" / "alignments.ttl", format="turtle")
    declared = {s for s, k in alignments.subject_objects(RDF.type) if external(s) and k in KINDS}
    assert len(declared) > 30
    # nothing is said about an external term but its kind: their ontologies are not imported
    said = [(s, p, o) for s, p, o in alignments if external(s) and not (p == RDF.type and o in KINDS)]
    assert not said, f"axioms about external terms (an import in disguise): {said[:5]}"
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        if f.name == "alignments.ttl":
            continue
        g = Graph().parse(f, format="turtle")
        here = {s for s in g.subjects(RDF.type, None) if external(s)}
        assert not here, f"{f.name} declares external terms (they belong in alignments.ttl): {sorted(here)[:5]}"


def test_every_external_term_in_the_ontology_and_the_data_is_declared(onto):
    declared = {s for s, k in onto.subject_objects(RDF.type) if k in KINDS}
    used = set()
    for s, p, o in onto:
        if p in (RDFS.subClassOf, OWL.equivalentClass, OWL.disjointWith, RDFS.domain, RDFS.range) or \
                (p == RDF.type and o not in KINDS):
            used |= {t for t in (s, o) if external(t)}
        if p in (RDFS.subPropertyOf, OWL.equivalentProperty, OWL.inverseOf):
            used |= {t for t in (s, o) if external(t)}
        if external(p) and p != RDFS.seeAlso:
            used.add(p)
    data = Dataset()
    for f in sorted((ROOT / "triples").glob("*.trig")) + [ROOT / "triples" / "sources.ttl"]:
        data.parse(f, format="trig")
    for _s, p, o, _g in data.quads((None, None, None, None)):
        if external(p):
            used.add(p)
        if p == RDF.type and external(o):
            used.add(o)
    missing = sorted(str(t) for t in used - declared)
    assert not missing, f"external terms used but not declared in ontology/alignments.ttl: {missing}"
