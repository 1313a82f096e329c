"""Every ontology term the data uses has a shape that checks it.

A class counts as covered when a shape targets it or one of its superclasses (sh:targetClass);
a property when a shape names it in a path (inverse and alternative paths included), a target
(sh:targetSubjectsOf/ObjectsOf) or a SPARQL constraint. A term used in triples/ without either
fails this test, unless it is in ALLOWED below with the reason it needs no shape. The list must
stay true: an entry that is no longer used, or that a shape now covers, fails too.
"""

from __future__ import annotations

import re

from rdflib import BNode, Dataset, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS

from conftest import ROOT

CK = "https://w3id.org/chainkg/ontology#"
SH = "http://www.w3.org/ns/shacl#"

# Terms the data uses that no shape needs to check, and why: {"localName": "reason"}. Empty
# since issue #15, when the last ones got shapes (IndustrialCluster, Designation, ParkGroup and
# Report in S01; involves, focusesOn, partOf/hasPart, includesPark, investsIn, alignsWith,
# cooperatesWith and upstreamPartnerOf in S02/S14; maxValue in S17; note in S18). A new term
# goes here only with a reason a reviewer accepts, e.g. "free text shown as is".
ALLOWED: dict[str, str] = {}


def shapes_graph() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "shapes").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def path_terms(g: Graph, node) -> set:
    """The IRIs a SHACL path names (predicate, inverse, alternative, sequence, repetition)."""
    if isinstance(node, URIRef):
        return {node}
    out = set()
    if isinstance(node, BNode):
        if (node, RDF.first, None) in g:
            for item in Collection(g, node):
                out |= path_terms(g, item)
        for key in ("inversePath", "alternativePath", "zeroOrMorePath", "oneOrMorePath", "zeroOrOnePath"):
            for o in g.objects(node, URIRef(SH + key)):
                out |= path_terms(g, o)
    return out


def covered(shapes: Graph) -> tuple[set, set]:
    """(classes targeted, properties named) by the shapes."""
    classes = set(shapes.objects(None, URIRef(SH + "targetClass")))
    properties = set()
    for o in shapes.objects(None, URIRef(SH + "path")):
        properties |= path_terms(shapes, o)
    for key in ("targetSubjectsOf", "targetObjectsOf"):
        properties |= set(shapes.objects(None, URIRef(SH + key)))
    for text in shapes.objects(None, URIRef(SH + "select")):
        properties |= {URIRef(CK + name) for name in re.findall(r"\bck:(\w+)", str(text))}
    return classes, properties


def used_in_data() -> tuple[set, set]:
    """(ck: classes, ck: properties) the data asserts, in every claim, the background and the catalogue."""
    data = Dataset()
    for f in sorted((ROOT / "triples").glob("*.trig")) + [ROOT / "triples" / "sources.ttl"]:
        data.parse(f, format="trig")
    classes, properties = set(), set()
    for _s, p, o, _g in data.quads((None, None, None, None)):
        if str(p).startswith(CK):
            properties.add(p)
        if p == RDF.type and str(o).startswith(CK):
            classes.add(o)
    return classes, properties


def superclasses(onto: Graph, cls) -> set:
    seen, todo = {cls}, [cls]
    while todo:
        for parent in onto.objects(todo.pop(), RDFS.subClassOf):
            if isinstance(parent, URIRef) and parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def uncovered() -> list[str]:
    onto = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        onto.parse(f, format="turtle")
    targeted, named = covered(shapes_graph())
    classes, properties = used_in_data()
    missing = [c for c in classes if not superclasses(onto, c) & targeted]
    missing += [p for p in properties if p not in named]
    return sorted(str(t)[len(CK):] for t in missing)


def test_every_term_in_use_has_a_shape():
    missing = [t for t in uncovered() if t not in ALLOWED]
    assert not missing, ("ontology terms used in triples/ that no shape checks (add a shape, or an entry "
                         f"with its reason to ALLOWED in {__name__}): {missing}")


def test_the_allow_list_is_current():
    stale = [t for t in ALLOWED if t not in uncovered()]
    assert not stale, f"ALLOWED lists terms that are covered or unused now: {stale}"


def test_the_coverage_check_bites():
    # the classes and properties issue #15 found without a shape are covered now...
    targeted, named = covered(shapes_graph())
    for cls in ("IndustrialCluster", "Designation", "ParkGroup", "Report"):
        assert URIRef(CK + cls) in targeted, cls
    for prop in ("involves", "includesIndustry", "partOf", "precedes", "maxValue", "hasTenant", "suppliedBy"):
        assert URIRef(CK + prop) in named, prop
    # ...and a shapes graph without S01 leaves classes uncovered
    shapes = shapes_graph()
    shapes.remove((URIRef("https://w3id.org/chainkg/shapes#S01-EntityShape"), URIRef(SH + "targetClass"), None))
    targeted, _ = covered(shapes)
    assert URIRef(CK + "IndustrialCluster") not in targeted


def test_the_issue_attack_through_an_inverse_is_stopped():
    """Issue #15: a claim asserting `park ck:hasLeadingEnterprise id:shanghai` (a city) passed the
    shapes, which checked only the forward ck:leadingEnterpriseOf, and the reasoner propagated it."""
    from chainkg.build.validate import findings_from, load_shapes, validate_graph
    from chainkg.config import Config

    data = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        data.parse(f, format="turtle")
    data.parse(format="turtle", data="""
        @prefix ck: <https://w3id.org/chainkg/ontology#> . @prefix id: <https://w3id.org/chainkg/id/> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        id:park a ck:IndustrialPark ; rdfs:label "某园区"@zh , "Some Park"@en ; skos:prefLabel "某园区"@zh .
        id:shanghai a ck:City ; rdfs:label "上海"@zh , "Shanghai"@en ; skos:prefLabel "上海"@zh .
        id:park ck:hasLeadingEnterprise id:shanghai .""")
    findings = findings_from(validate_graph(data, load_shapes(Config(root=ROOT))))
    assert [f for f in findings if f.severity == "Violation" and "shanghai" in f"{f.focus} {f.value}"], \
        [f.format() for f in findings]
