"""The alignments are true: reasoned over with the axioms of the vocabularies they point at, they
contradict none of our disjointness axioms, on the real data and on one instance of every class.

Our disjointness is said in our own terms (ck:Organization owl:disjointWith ck:Project). A
consumer who reads only schema.org or ORG sees what our classes are mapped to, so the test says
it in their terms too: if A and B are disjoint and A is mapped to the external class E (and B is
not mapped to E itself), then nothing that is a B may be an E. With ck:Organization mapped to
schema:Organization, a ck:Project must never become a schema:Organization, which is what the
earlier `ck:Project rdfs:subClassOf schema:Project` did. The external axioms are copied as
triples in tests/fixtures/alignments/external-axioms.ttl (ORG is never loaded whole: its
owl:hasKey trips owlrl). The reasoner is owlrl, the reference engine. Each earlier, false
alignment in tests/fixtures/alignments/false-*.ttl must clash.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import owlrl
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from chainkg.build.load import load
from conftest import FIXTURES, ROOT

CK = "https://w3id.org/chainkg/ontology#"
SCHEMA = "https://schema.org/"
ORG = "http://www.w3.org/ns/org#"
OURS = "https://w3id.org/chainkg/"
EXTERNAL = FIXTURES / "alignments" / "external-axioms.ttl"
FALSE_ALIGNMENTS = sorted((FIXTURES / "alignments").glob("false-*.ttl"))


def ontology(*extra: Path) -> Graph:
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")) + list(extra):
        g.parse(f, format="turtle")
    return g


def mapped_to(onto: Graph, cls: URIRef) -> set:
    """The external classes `cls` is directly mapped to (subclass or equivalence)."""
    out = set(onto.objects(cls, RDFS.subClassOf)) | set(onto.objects(cls, OWL.equivalentClass)) \
        | set(onto.subjects(OWL.equivalentClass, cls))
    return {c for c in out if isinstance(c, URIRef) and not str(c).startswith(OURS)}


def disjointness_in_their_terms(onto: Graph) -> Graph:
    """For A disjoint with B (ours) and A mapped to E (not also a mapping of B): B disjoint with E."""
    lifted = Graph()
    for a, b in onto.subject_objects(OWL.disjointWith):
        if not (str(a).startswith(CK) and str(b).startswith(CK)):
            continue
        for x, y in ((a, b), (b, a)):
            for e in mapped_to(onto, x) - mapped_to(onto, y):
                lifted.add((y, OWL.disjointWith, e))
    return lifted


def one_of_each(onto: Graph) -> Graph:
    """One instance of every class of ours, so that a clash shows even where no data is yet."""
    g = Graph()
    for cls in onto.subjects(RDF.type, OWL.Class):
        if str(cls).startswith(CK):
            g.add((URIRef(f"urn:chainkg:test:{str(cls)[len(CK):]}"), RDF.type, cls))
    return g


def closure(onto: Graph, data: Graph) -> Graph:
    """owlrl's OWL 2 RL closure of ontology, external axioms, our disjointness in their terms, one
    instance of each class and the data."""
    g = Graph()
    for part in (onto, Graph().parse(EXTERNAL, format="turtle"), disjointness_in_their_terms(onto),
                 one_of_each(onto), data):
        for t in part:
            if not isinstance(t[2], Literal):  # labels, definitions, figures: no class follows
                g.add(t)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(g)
    return g


def clashes(g: Graph) -> list[str]:
    types = defaultdict(set)
    for s, o in g.subject_objects(RDF.type):
        types[s].add(o)
    found = set()
    for c1, c2 in g.subject_objects(OWL.disjointWith):
        for node, classes in types.items():
            if c1 in classes and c2 in classes and c1 != c2:
                found.add(f"{node} is both {c1} and {c2}")
    found |= {f"{s} is owl:Nothing" for s in g.subjects(RDF.type, OWL.Nothing)}
    found |= {f"owlrl: {o}" for s, p, o in g if str(p).endswith("#error")}
    return sorted(found)


@pytest.fixture(scope="module")
def data(config) -> Graph:
    """The asserted data (every claim, the background, the catalogue) without its literals: labels,
    quotes and figures entail no class here, and owlrl runs five times faster without them."""
    g = Graph()
    for t in load(config).union(include_ontology=False):
        if not isinstance(t[2], Literal):
            g.add(t)
    return g


@pytest.fixture(scope="module")
def honest(data) -> Graph:
    return closure(ontology(), data)


def test_the_alignments_contradict_none_of_our_disjointness(honest):
    found = clashes(honest)
    assert not found, f"{len(found)} clashes:\n" + "\n".join(found[:20])


@pytest.mark.parametrize("fixture", FALSE_ALIGNMENTS, ids=lambda p: p.stem)
def test_an_earlier_false_alignment_clashes(fixture, data):
    found = clashes(closure(ontology(fixture), data))
    assert found, f"{fixture.name} should contradict our disjointness"


def test_projects_are_places_to_a_consumer_not_organisations(honest):
    g = honest
    projects = set(g.subjects(RDF.type, URIRef(CK + "Project")))
    assert len(projects) > 20
    for p in projects:
        types = set(g.objects(p, RDF.type))
        assert URIRef(SCHEMA + "Place") in types
        assert not types & {URIRef(SCHEMA + "Organization"), URIRef(SCHEMA + "Project"), URIRef(ORG + "Organization")}


def test_figures_map_bounds_not_values():
    onto = ontology()
    value, max_value = URIRef(CK + "value"), URIRef(CK + "maxValue")
    # ck:value is a value or a bound: no external property is true of every one of them
    assert not list(onto.objects(value, RDFS.subPropertyOf)) and not list(onto.objects(value, OWL.equivalentProperty))
    assert (max_value, OWL.equivalentProperty, URIRef(SCHEMA + "maxValue")) in onto
    for s, o in onto.subject_objects(RDFS.subPropertyOf):
        assert str(o) != SCHEMA + "value", f"{s} is mapped to schema:value"


def test_no_class_of_ours_is_a_skos_collection_of_non_concepts():
    onto = ontology()
    collections = {s for s in onto.subjects(RDFS.subClassOf, URIRef("http://www.w3.org/2004/02/skos/core#Collection"))}
    assert collections == {URIRef(CK + "IndustryCategory")}, collections
    for s, o in onto.subject_objects(RDFS.subPropertyOf):
        assert str(o) != "http://www.w3.org/2004/02/skos/core#member", f"{s} is mapped to skos:member"


QUDT_UNIT = "http://qudt.org/vocab/unit/"
UNECE_CODE = URIRef("http://qudt.org/schema/qudt/uneceCommonCode")
CURRENCY_CODE = URIRef("http://qudt.org/schema/qudt/currencyCode")
SKOS_NS = "http://www.w3.org/2004/02/skos/core#"


def test_every_unit_has_a_standard_code_or_says_it_has_none():
    """Each ck:Unit maps to a QUDT unit and/or its UN/CEFACT Rec 20 common code (ISO 4217 for
    money), or says in an editorial note that it has no standard code (counts of things)."""
    onto = ontology()
    units = set(onto.subjects(RDF.type, URIRef(CK + "Unit")))
    assert len(units) >= 12
    match = (URIRef(SKOS_NS + "exactMatch"), URIRef(SKOS_NS + "closeMatch"))
    unmapped = []
    for u in sorted(units):
        qudt = [o for p in match for o in onto.objects(u, p) if str(o).startswith(QUDT_UNIT)]
        codes = [str(o) for o in onto.objects(u, UNECE_CODE)] + [str(o) for o in onto.objects(u, CURRENCY_CODE)]
        notes = [str(n) for n in onto.objects(u, URIRef(SKOS_NS + "editorialNote")) if n.language == "en"]
        says_none = any(n.startswith("No standard unit code") for n in notes)
        if not (qudt or codes) and not says_none:
            unmapped.append(str(u))
        assert not ((qudt or codes) and says_none), f"{u} has a code and says it has none"
        for c in onto.objects(u, UNECE_CODE):
            assert re.fullmatch(r"[A-Z0-9]{2,3}", str(c)), f"{u}: {c} is not a Rec 20 common code"
        assert len(qudt) <= 1 and len(list(onto.objects(u, UNECE_CODE))) <= 1, f"{u} has two codes"
    assert not unmapped, f"units with neither a standard code nor a 'no standard code' note: {unmapped}"


def test_unit_codes_are_the_standard_ones():
    """The codes as the QUDT 3.1 units vocabulary (qudtlib 7.1.0) and the Rec 20 list give them:
    a typo here would silently point consumers at another unit."""
    onto = ontology()
    expected = {"Yuan": ("CCY_CNY", None), "Percent": ("PERCENT", "P1"), "PerMille": ("PPTH", "NX"),
                "SquareMetre": ("M2", "MTK"), "Kilometre": ("KiloM", "KMT"), "Tonne": ("TONNE", "TNE"),
                "Watt": ("W", "WTT"), "WattHour": ("W-HR", "WHR"), "Piece": (None, "H87")}
    for name, (qudt, code) in expected.items():
        u = URIRef(CK + name)
        got = {str(o)[len(QUDT_UNIT):] for o in onto.objects(u, URIRef(SKOS_NS + "exactMatch"))
               if str(o).startswith(QUDT_UNIT)}
        assert got == ({qudt} if qudt else set()), (name, got)
        assert {str(o) for o in onto.objects(u, UNECE_CODE)} == ({code} if code else set()), name
    assert str(onto.value(URIRef(CK + "Yuan"), CURRENCY_CODE)) == "CNY"
    # counts of things of a kind have no unit code: what is counted is the variable's population
    for name in ("Item", "Vehicle", "Wafer"):
        u = URIRef(CK + name)
        assert not list(onto.objects(u, UNECE_CODE)) and not list(onto.objects(u, URIRef(SKOS_NS + "exactMatch")))
