"""The build pipeline on small fixture projects: valid, syntax error, violation, inconsistency."""

from __future__ import annotations

import pytest

from chainkg.build.load import BACKGROUND_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, PROVENANCE_GRAPH
from chainkg.build.pipeline import BuildError, ValidationFailed, build
from chainkg.config import Config
from conftest import MINI_TRIG

ID = "https://w3id.org/chainkg/id/"
CK = "https://w3id.org/chainkg/ontology#"


def ask(ds, query: str, **kw) -> bool:
    return bool(ds.query(f"PREFIX ck: <{CK}> PREFIX id: <{ID}> ASK {{ {query} }}", **kw))


def test_valid_project_builds_with_graphs_kept_apart(mini_config):
    ds = build(mini_config).dataset
    graphs = ds.graph_names()
    for g in (ONTOLOGY_GRAPH, PROVENANCE_GRAPH, BACKGROUND_GRAPH, INFERRED_GRAPH):
        assert g in graphs
    assert "https://w3id.org/chainkg/claim/900-park" in graphs
    # asserted facts live in their claim, not in the inferred graph
    assert ask(ds, "GRAPH <https://w3id.org/chainkg/claim/900-park> { id:test-park ck:locatedIn id:laoshan-district }")
    assert not ask(ds, f"GRAPH <{INFERRED_GRAPH}> {{ id:test-park ck:locatedIn id:laoshan-district }}")
    assert ds.meta["stats"]["claim_graphs"] == 2


def test_transitive_location_is_inferred(mini_config):
    ds = build(mini_config).dataset
    # tenantOf is a subproperty of the transitive locatedIn: park -> Laoshan -> Qingdao -> Shandong
    for place in ("test-park", "laoshan-district", "qingdao", "shandong", "china"):
        assert ask(ds, f"GRAPH <{INFERRED_GRAPH}> {{ id:test-maker ck:locatedIn id:{place} }}") or place == "test-park"
    assert ask(ds, "id:test-maker ck:locatedIn id:shandong")
    # and none of it is asserted
    assert not ask(ds, "id:test-maker ck:locatedIn id:shandong", asserted_only=True)
    # the inverse: Qingdao contains the park's tenant
    assert ask(ds, "id:qingdao ck:contains id:test-maker")


def test_inverse_supplied_by_is_inferred(mini_config):
    ds = build(mini_config).dataset
    assert ask(ds, f"GRAPH <{INFERRED_GRAPH}> {{ id:test-buyer ck:suppliedBy id:test-maker }}")
    assert ask(ds, "id:test-park ck:hasTenant id:test-maker")


def test_cached_restart_skips_the_work(mini_config):
    first = build(mini_config)
    second = build(mini_config)
    assert not first.cached and second.cached
    assert second.dataset.version == first.dataset.version
    assert len(second.dataset.store) == len(first.dataset.store)


def test_version_changes_with_inputs(mini_config):
    v1 = build(mini_config).dataset.version
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(path.read_text() + "\n# a comment\n")
    assert build(mini_config).dataset.version != v1


def test_syntax_error_names_file_and_line(mini_config):
    good = build(mini_config).dataset.version
    path = mini_config.triples_dir / "900_test.trig"
    lines = MINI_TRIG.splitlines()
    bad = next(i for i, line in enumerate(lines) if "ck:tenantOf id:test-park ;" in line)
    lines[bad] = lines[bad].replace("ck:tenantOf id:test-park ;", "ck:tenantOf id:test-park id:oops ;")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BuildError) as e:
        build(mini_config)
    msg = str(e.value)
    assert "900_test.trig:" in msg and "syntax error" in msg
    line = int(msg.split("900_test.trig:")[1].split(":")[0])
    assert line == bad + 1
    # the good cache is still there and still current
    assert (mini_config.cache_dir / good / "dataset.nq").exists()
    assert (mini_config.cache_dir / "CURRENT").read_text().strip() == good


def test_violation_stops_with_focus_message_claim_and_file(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace('ck:value 600000000.0', 'ck:value "six hundred million"'))
    with pytest.raises(ValidationFailed) as e:
        build(mini_config)
    report = e.value.report
    v = [f for f in report.violations if f.path and "value" in f.path]
    assert v, report.format()
    text = report.format()
    assert "xsd:decimal" in text
    assert "https://w3id.org/chainkg/claim/900-supply" in text
    assert "900_test.trig" in text
    assert not list(mini_config.cache_dir.glob("*/dataset.nq"))


def test_missing_label_is_a_violation_in_zh_and_en(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace('"测试买家"@zh , "Test Buyer"@en', '"Test Buyer"@en'))
    with pytest.raises(ValidationFailed) as e:
        build(mini_config)
    f = next(f for f in e.value.report.violations if "test-buyer" in f.focus)
    assert "zh" in f.messages and "en" in f.messages


def test_inconsistency_stops_the_build(mini_config):
    # a park is a place; typing it also as an organisation contradicts ck:Organization owl:disjointWith ck:Place
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace("id:test-park a ck:IndustrialPark ;", "id:test-park a ck:IndustrialPark , ck:Enterprise ;"))
    with pytest.raises(BuildError) as e:
        build(mini_config)
    assert "inconsistent" in str(e.value) and "test-park" in str(e.value)


def test_inconsistency_is_caught_by_owlrl_too(mini_project):
    config = Config(root=mini_project, build_dir=mini_project / "build-owlrl", reasoner="owlrl")
    path = config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace("id:test-park a ck:IndustrialPark ;", "id:test-park a ck:IndustrialPark , ck:Enterprise ;"))
    with pytest.raises(BuildError, match="inconsistent"):
        build(config)


def test_fact_outside_a_claim_is_rejected(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG + '\nid:test-maker <http://www.w3.org/2000/01/rdf-schema#comment> "loose fact" .\n')
    with pytest.raises(BuildError, match="outside a claim"):
        build(mini_config)


def test_named_graph_without_claim_description_is_rejected(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace("claim:900-park a ck:Claim ;", "claim:900-park-x a ck:Claim ;"))
    with pytest.raises(BuildError, match=r"900_test\.trig.*claim/900-park> is not described as a ck:Claim"):
        build(mini_config)


def test_union_default_graph_is_a_set_not_a_multiset(mini_config):
    # the same fact stated by two claims is one triple of the default graph
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace("        ck:locatedIn id:qingdao .\n}", "        ck:locatedIn id:qingdao .\n    id:test-park ck:locatedIn id:laoshan-district .\n}"))
    ds = build(mini_config).dataset
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{ID}test-park> <{CK}locatedIn> <{ID}laoshan-district> }}"
    assert ds.select(q)[0]["n"] == "1"
    assert ds.select(q, asserted_only=True)[0]["n"] == "1"
    n_graphs = f"SELECT (COUNT(?g) AS ?n) WHERE {{ GRAPH ?g {{ <{ID}test-park> <{CK}locatedIn> <{ID}laoshan-district> }} }}"
    assert ds.select(n_graphs)[0]["n"] == "2"


def test_property_chain_present_in(mini_config):
    # ck:operates o ck:locatedIn -> ck:presentIn: an enterprise whose project is in a district is present there
    path = mini_config.triples_dir / "900_test.trig"
    extra = """
claim:900-project {
    id:test-line a ck:ProductionLine ; rdfs:label "测试产线"@zh , "Test Line"@en ; skos:prefLabel "测试产线"@zh ;
        ck:operatedBy id:test-buyer ; ck:locatedIn id:laoshan-district .
}
claim:900-project a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试产线位于崂山区"@zh .
"""
    path.write_text(MINI_TRIG + extra)
    for engine in ("reasonable", "owlrl"):
        cfg = Config(root=mini_config.root, build_dir=mini_config.root / f"build-{engine}", reasoner=engine)
        ds = build(cfg).dataset
        assert ask(ds, "id:test-buyer ck:presentIn id:laoshan-district"), engine
        assert ask(ds, "id:test-buyer ck:presentIn id:shandong"), engine
