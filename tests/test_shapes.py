"""Every shape has a valid and an invalid fixture; the valid one passes, the invalid one trips that shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from chainkg.build.validate import findings_from, load_shapes, validate_graph
from chainkg.config import Config
from conftest import FIXTURES, ROOT

SH = "http://www.w3.org/ns/shacl#"
SHAPES_NS = "https://w3id.org/chainkg/shapes#"
FIXTURE_DIR = FIXTURES / "shapes"
# the fixtures' frame, read with each of them as the build reads triples/background.trig: the city
# their district (id:somewhere) lies in, so that W09 (a place reaches a city) fires only where a
# fixture breaks it
FRAME = FIXTURE_DIR / "background" / "city.ttl"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return load_shapes(Config(root=ROOT))


@pytest.fixture(scope="module")
def ontology() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def shape_names() -> list[str]:
    g = Graph()
    for f in sorted((ROOT / "shapes").glob("*.ttl")):
        g.parse(f, format="turtle")
    return sorted(str(s)[len(SHAPES_NS):] for s in g.subjects(RDF.type, URIRef(SH + "NodeShape"))
                  if str(s).startswith(SHAPES_NS))


def results_of(fixture: Path, shapes: Graph, ontology: Graph) -> list:
    data = Graph()
    for t in ontology:
        data.add(t)
    data.parse(FRAME, format="turtle")
    data.parse(fixture, format="turtle")
    results = validate_graph(data, shapes)
    # map each result's source shape (often a blank property shape) to its named node shape
    findings = findings_from(results)
    owners = {}
    for node_shape in shapes.subjects(RDF.type, URIRef(SH + "NodeShape")):
        owners[node_shape] = node_shape
        for prop in shapes.objects(node_shape, URIRef(SH + "property")):
            owners[prop] = node_shape
        for sparql in shapes.objects(node_shape, URIRef(SH + "sparql")):
            owners[sparql] = node_shape
    return [(str(owners.get(f.source_shape, f.source_shape)), f) for f in findings]


def test_every_shape_has_both_fixtures():
    names = shape_names()
    assert len(names) >= 9
    missing = [f"{n}.{kind}.ttl" for n in names for kind in ("valid", "invalid") if not (FIXTURE_DIR / f"{n}.{kind}.ttl").exists()]
    assert not missing, f"missing shape fixtures: {missing}"


@pytest.mark.parametrize("name", shape_names())
def test_valid_fixture_conforms(name, shapes, ontology):
    results = results_of(FIXTURE_DIR / f"{name}.valid.ttl", shapes, ontology)
    assert not results, "\n".join(f.format() for _, f in results)


@pytest.mark.parametrize("name", shape_names())
def test_invalid_fixture_trips_its_shape(name, shapes, ontology):
    results = results_of(FIXTURE_DIR / f"{name}.invalid.ttl", shapes, ontology)
    mine = [f for owner, f in results if owner == SHAPES_NS + name]
    assert mine, f"{name}: no result from this shape; got {[o for o, _ in results]}"
    expected = "Warning" if name.startswith("W") else "Violation"
    assert all(f.severity == expected for f in mine)
    # every message is given in both languages
    assert all({"zh", "en"} <= set(f.messages) for f in mine), [f.messages for f in mine]


# -- where a violation is reported -----------------------------------------------------------------
OTHER_TRIG = """@prefix ck:    <https://w3id.org/chainkg/ontology#> .
@prefix id:    <https://w3id.org/chainkg/id/> .
@prefix claim: <https://w3id.org/chainkg/claim/> .
@prefix src:   <https://w3id.org/chainkg/source/> .
@prefix prov:  <http://www.w3.org/ns/prov#> .
@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos:  <http://www.w3.org/2004/02/skos/core#> .

claim:901-lab {
    id:test-lab a ck:Enterprise ;
        rdfs:label "测试实验室"@zh , "Test Lab"@en ; skos:prefLabel "测试实验室"@zh ;
        ck:locatedIn id:laoshan-district .
}

claim:901-lab a ck:Claim ;
    prov:wasDerivedFrom src:900_test ;
    ck:evidence EVIDENCE .
"""


@pytest.mark.parametrize("old, new, line", [
    ("EVIDENCE", '"测试实验室位于崂山区"', 17),  # an untagged quote: the line of the quote
    (" ;\n    ck:evidence EVIDENCE .", " .", 15),  # no quote: the line where the description begins
])
def test_a_violation_in_a_claim_description_names_the_claims_file_and_line(tmp_path, old, new, line):
    """The description of a claim (its provenance triples) is in its own .trig file, not in
    sources.ttl, though sources.ttl and every .trig's default graph feed the one provenance graph."""
    from chainkg.build.pipeline import ValidationFailed, build
    from conftest import make_project

    root = make_project(tmp_path / "project")
    other = root / "triples" / "901_other.trig"
    text = OTHER_TRIG.replace(old, new)
    assert text != OTHER_TRIG
    other.write_text(text, encoding="utf-8")
    config = Config(root=root, build_dir=root / "build")
    with pytest.raises(ValidationFailed) as e:
        build(config)
    found = [f for f in e.value.report.violations if f.focus == "<https://w3id.org/chainkg/claim/901-lab>"]
    assert found, e.value.report.format()
    for f in found:
        assert f.files and f.files[0] == str(other), f.format()
        assert f.where() == f"{other}:{line}: ", f.format()
    assert f"901_other.trig:{line}: Violation" in e.value.report.format()
    assert "sources.ttl" not in e.value.report.format()


def test_a_violation_on_a_source_names_sources_ttl(tmp_path):
    from chainkg.build.pipeline import ValidationFailed, build
    from conftest import MINI_SOURCES, make_project

    root = make_project(tmp_path / "project", sources=MINI_SOURCES.replace('    dcterms:language <http://id.loc.gov/vocabulary/iso639-1/zh> .', '    .'))
    config = Config(root=root, build_dir=root / "build")
    with pytest.raises(ValidationFailed) as e:
        build(config)
    f = next(f for f in e.value.report.violations if f.focus == "<https://w3id.org/chainkg/source/900_test>")
    assert f.where() == f"{root / 'triples' / 'sources.ttl'}:6: ", f.format()
