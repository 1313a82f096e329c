"""No plan stored as achieved (issue #12, "Bad input": a future-marked quote whose claim holds an
actual figure, a warning). The build's check W10 (chainkg.build.tense) warns for every figure with
ck:ModalityActual whose clause, in its claim's quote, carries a future marker (将, 预计, 力争, 建成后,
到2025年, will, expected, by 2025 ...), unless the claim says the figure was read and is actual
(ck:reviewedAsActual, with the reason in a skos:editorialNote). These tests run the check through the
real build, on the repository's claims and on made-up projects."""

from __future__ import annotations

import pytest
from rdflib import URIRef

from chainkg.build import tense
from chainkg.build.load import load
from chainkg.build.pipeline import build
from chainkg.config import Config
from conftest import PREFIXES, make_project

CK = "https://w3id.org/chainkg/ontology#"
SKOS_NOTE = URIRef("http://www.w3.org/2004/02/skos/core#editorialNote")
PROVENANCE = "https://w3id.org/chainkg/graph/provenance"


def test_the_repository_has_no_unread_future_worded_actual_figure(config):
    inputs = load(config)
    findings = tense.check(inputs)
    assert not findings, "\n".join(f.format() for f in findings)
    # and every review is explained: the claim's editorial note names the wording and says why
    prov = inputs.graph(PROVENANCE)
    reviews = list(prov.subject_objects(URIRef(CK + "reviewedAsActual")))
    assert len(reviews) >= 8  # the pairs read in issue #12's audits
    for claim, wording in reviews:
        notes = [str(n) for n in prov.objects(claim, SKOS_NOTE) if str(wording) in str(n)]
        assert notes and len(notes[0]) > len(str(wording)) + 20, (claim, wording)


@pytest.mark.parametrize("quote, wording, marker", [
    ("项目达产后预计年产值100亿元", "100亿元", "达产后"),
    ("到2027年产值突破100亿元", "100亿元", "到2027年"),
    ("The park will host 30 firms", "30 firms", "will"),
    ("2024年产值100亿元,将继续扩产", "100亿元", None),  # 将 is in the next clause
    ("The firms willingly paid 30 yuan", "30 yuan", None),  # a word, not the marker
    ("去年产值50亿元;预计今年产值50亿元", "50亿元", "预计"),  # the second occurrence is the projection
])
def test_the_clause_of_a_wording_is_read_for_a_future_marker(quote, wording, marker):
    hit = tense.future_clause(quote, wording)
    assert (hit[1] if hit else None) == marker


def _project(tmp_path, claim_extra: str = "", quote: str = "项目达产后预计年产值100亿元"):
    trig = PREFIXES + f"""
claim:900-output {{
    id:test-plant a ck:Enterprise ;
        rdfs:label "测试工厂"@zh , "Test Plant"@en ; skos:prefLabel "测试工厂"@zh ;
        ck:locatedIn id:laoshan-district ;
        ck:hasQuantity <https://w3id.org/chainkg/id/figure/test-plant--output> .
    <https://w3id.org/chainkg/id/figure/test-plant--output> a ck:Quantity ;
        ck:hasMetric ck:OutputValue ; ck:hasVariable ck:AnnualOutputValue ; ck:value 10000000000.0 ;
        ck:hasUnit ck:Yuan ; ck:hasModality ck:ModalityActual ;
        ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication ;
        ck:originalWording "100亿元"@zh .
}}
claim:900-output a ck:Claim ; prov:wasDerivedFrom src:900_test ;{claim_extra}
    ck:evidence "{quote}"@zh .
"""
    root = make_project(tmp_path / "project", trig)
    return Config(root=root, build_dir=root / "build")


def _w10(config):
    return [f for f in build(config, force=True).warnings if f.shape == tense.SHAPE]


def test_a_projection_stored_as_actual_is_a_warning_with_its_claim_file_and_line(tmp_path):
    config = _project(tmp_path)
    [w] = _w10(config)
    assert w.severity == "Warning" and w.focus == "https://w3id.org/chainkg/id/figure/test-plant--output"
    assert w.graphs == ["https://w3id.org/chainkg/claim/900-output"]
    assert w.value == "项目达产后预计年产值100亿元" and "达产后" in w.message("en")
    lines = (config.root / "triples" / "900_test.trig").read_text(encoding="utf-8").splitlines()
    assert w.files[0].endswith("900_test.trig") and 'ck:originalWording "100亿元"@zh' in lines[w.line - 1]
    assert w.format().startswith(f"{w.files[0]}:{w.line}: Warning: ")


def test_a_read_figure_is_kept_actual_by_its_review_and_a_stale_review_warns(tmp_path):
    reviewed = '\n    ck:reviewedAsActual "100亿元"@zh ;\n    skos:editorialNote "100亿元: read, and actual."@en ;'
    assert _w10(_project(tmp_path / "a", reviewed)) == []
    # the same review on a quote with no future marker no longer matches anything: it warns, by line
    config = _project(tmp_path / "b", reviewed, quote="2024年产值100亿元")
    [stale] = _w10(config)
    assert stale.focus == "https://w3id.org/chainkg/claim/900-output" and stale.value == "100亿元"
    assert "no longer matches" in stale.message("en")
    lines = (config.root / "triples" / "900_test.trig").read_text(encoding="utf-8").splitlines()
    assert "ck:reviewedAsActual" in lines[stale.line - 1]


def test_a_target_in_future_words_is_not_warned(tmp_path):
    config = _project(tmp_path)
    path = config.root / "triples" / "900_test.trig"
    path.write_text(path.read_text(encoding="utf-8").replace("ck:ModalityActual", "ck:ModalityExpected")
                    .replace("ck:hasQuantity", "ck:hasProjection"),
                    encoding="utf-8")
    assert _w10(config) == []
