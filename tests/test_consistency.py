"""Issue 16, item 1: every figure agrees with its own words, and its words with its claim's quote.

The parser is checked on the wordings the articles use (and the issue's examples); the check is
checked on one bad figure at a time (a value ten times too small, a wording the quote does not
hold, a wrong unit, a lost or wrong qualifier); the repository's claims are checked through both
paths (the loaded files, the frozen dataset), and a copy of the real triples with one value
stored ten times too small is caught by name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from chainkg.build.consistency import check_dataset, check_figure, check_inputs, cn_numeral, parse_figure, qualifier_of
from chainkg.build.load import load
from chainkg.config import Config
from conftest import MINI_SOURCES, PREFIXES, ROOT, make_project

CLAIM = "https://w3id.org/chainkg/claim/900-x"


# -- the parser -----------------------------------------------------------------------------------
@pytest.mark.parametrize("wording, low, high, units, qualifier", [
    ("1.5亿", "150000000", None, set(), None),
    ("1.5亿片", "150000000", None, {"Piece", "Wafer"}, None),
    ("1351.4亿元", "135140000000", None, {"Yuan"}, None),
    ("450,000", "450000", None, set(), None),
    ("over 300 billion", "300000000000", None, set(), "Over"),
    ("over 300 billion yuan", "300000000000", None, {"Yuan"}, "Over"),
    ("about 180 billion yuan", "180000000000", None, {"Yuan"}, "About"),
    ("exceeded 14 billion yuan", "14000000000", None, {"Yuan"}, "Over"),
    ("150 million", "150000000", None, set(), None),
    ("1000 - 1200 chips", "1000", "1200", {"Piece"}, None),
    ("10-20亿元", "1000000000", "2000000000", {"Yuan"}, None),
    ("三到五", "3", "5", set(), None),
    ("1.7‰", "1.7", None, {"PerMille"}, None),
    ("11.1%", "11.1", None, {"Percent"}, None),
    ("60%以上", "60", None, {"Percent"}, "Over"),
    ("千亿级", "100000000000", None, set(), "OrderOfMagnitude"),
    ("百亿级", "10000000000", None, set(), "OrderOfMagnitude"),
    ("过百亿元", "10000000000", None, {"Yuan"}, "Over"),
    ("百万辆规模", "1000000", None, {"Vehicle"}, None),
    ("超过20万辆", "200000", None, {"Vehicle"}, "Over"),
    ("突破45万辆", "450000", None, {"Vehicle"}, "Over"),
    ("约20万平方米", "200000", None, {"SquareMetre"}, "About"),
    ("不到一公里", "1", None, {"Kilometre"}, "LessThan"),
    ("不少于30个", "30", None, {"Item"}, "AtLeast"),
    ("上千颗", "1000", None, {"Piece"}, "AtLeast"),
    ("530多亿元", "53000000000", None, {"Yuan"}, "Over"),
    ("1000余家", "1000", None, {"Item"}, "Over"),
    ("十多个", "10", None, {"Item"}, "Over"),
    ("两种", "2", None, {"Item"}, None),
    ("五大", "5", None, {"Item"}, None),
    ("第5代", "5", None, {"Item"}, None),
    ("fifth - generation", "5", None, {"Item"}, None),
    ('"Big Five"', "5", None, set(), None),
    ("36GWh", "36000000000", None, {"WattHour"}, None),
    ("10万千瓦", "100000000", None, {"Watt"}, None),
    ("年产20亿只", "2000000000", None, {"Piece"}, None),
    ("已签约待开工项目13个", "13", None, {"Item"}, None),  # 约 in 签约 is not "about"
    ("近30家", "30", None, {"Item"}, "About"),
    ("逾百家", "100", None, {"Item"}, "Over"),
    ("less than 5%", "5", None, {"Percent"}, "LessThan"),
    ("at least 2 projects", "2", None, {"Item"}, "AtLeast"),
])
def test_the_parser_reads_chinese_and_english_figures(wording, low, high, units, qualifier):
    fig = parse_figure(wording)
    assert fig is not None, wording
    assert fig.low == Decimal(low), (wording, fig)
    assert fig.high == (Decimal(high) if high else None), (wording, fig)
    assert set(fig.units) == units, (wording, fig)
    assert fig.qualifier == qualifier, (wording, fig)


@pytest.mark.parametrize("text, value", [("两", 2), ("十", 10), ("十五", 15), ("三百二十", 320), ("一万二千", 12000),
                                          ("千亿", 100_000_000_000), ("一亿五千万", 150_000_000), ("百万", 1_000_000)])
def test_chinese_numerals(text, value):
    assert cn_numeral(text) == value


def test_words_without_a_number_are_not_figures():
    assert parse_figure("若干") is None
    assert parse_figure("several leading enterprises") is None
    assert qualifier_of("通过验收") is None and qualifier_of("近年来") is None


# -- one bad figure at a time ---------------------------------------------------------------------
QUOTE = "截至2024年3月底,8个园区在建项目50个、计划总投资1351.4亿元"


def kinds(found) -> list[str]:
    return sorted(d.kind for d in found)


def test_a_figure_that_agrees_with_its_words_passes():
    assert check_figure(CLAIM, "_:q", "1351.4亿元", [QUOTE], "135140000000.0", unit="Yuan") == []
    assert check_figure(CLAIM, "_:q", "1000 - 1200 chips", ["An electric vehicle requires 1000 - 1200 chips."],
                        "1000.0", "1200.0", "Piece") == []


def test_a_value_ten_times_too_small_is_a_disagreement():
    found = check_figure(CLAIM, "_:q", "1351.4亿元", [QUOTE], "13514000000.0", unit="Yuan")
    assert kinds(found) == ["value"]
    assert found[0].claim == CLAIM and found[0].quote == QUOTE and "0.1" in found[0].detail


def test_a_wording_the_quote_does_not_hold_is_a_disagreement():
    found = check_figure(CLAIM, "_:q", "1315.4亿元", [QUOTE], "131540000000.0", unit="Yuan")
    assert kinds(found) == ["wording"]
    assert check_figure(CLAIM, "_:q", "50个", [], "50", unit="Item")[0].detail == "the claim has no evidence quote"


def test_whitespace_is_the_only_thing_normalised_in_the_quote():
    assert check_figure(CLAIM, "_:q", "1000 - 1200 chips", ["requires 1000 -\n 1200 chips"], "1000", "1200", "Piece") == []
    assert kinds(check_figure(CLAIM, "_:q", "1000-1200 chips", ["requires 1000 - 1200 chips"], "1000", "1200",
                              "Piece")) == ["wording"]


def test_a_unit_that_does_not_fit_the_wording_is_a_disagreement():
    found = check_figure(CLAIM, "_:q", "1351.4亿元", [QUOTE], "135140000000.0", unit="https://w3id.org/chainkg/ontology#Item")
    assert kinds(found) == ["unit"] and "Yuan" in found[0].detail


def test_a_range_checks_both_ends():
    quote = ["requires 1000 - 1200 chips"]
    assert kinds(check_figure(CLAIM, "_:q", "1000 - 1200 chips", quote, "1000", "1300", "Piece")) == ["value"]
    assert kinds(check_figure(CLAIM, "_:q", "1000 chips", ["requires 1000 chips"], "1000", "1200", "Piece")) == ["value"]


@pytest.mark.parametrize("wording, qualifier, expected", [
    ("超过500亿元", None, "the wording says Over, the quantity has no ck:hasQualifier"),
    ("超过500亿元", "About", "the wording says Over, ck:hasQualifier is About"),
    ("500亿元", "Over", "ck:hasQualifier is Over but the wording has no hedge word"),
])
def test_a_qualifier_that_does_not_fit_the_wording_is_a_disagreement(wording, qualifier, expected):
    found = check_figure(CLAIM, "_:q", wording, [f"投资{wording}"], "50000000000", unit="Yuan", qualifier=qualifier)
    assert [d.detail for d in found] == [expected]


def test_exact_is_the_same_as_no_qualifier():
    assert check_figure(CLAIM, "_:q", "500亿元", ["投资500亿元"], "50000000000", unit="Yuan", qualifier="Exact") == []


def test_a_wording_with_no_number_is_reported_not_passed():
    assert kinds(check_figure(CLAIM, "_:q", "若干", ["若干企业"], "3", unit="Item")) == ["unparsed"]


# -- the repository's claims ----------------------------------------------------------------------
# Disagreements in triples/ that are accepted (none: the two found when this test was written, a
# "Big Five" wording outside its quotes and a 千亿级 without ck:AtLeast, were fixed in triples/).
KNOWN: set = set()


@pytest.fixture(scope="module")
def repository_disagreements(kg):
    return check_dataset(kg)


def test_no_claim_of_the_repository_disagrees_with_its_own_words_beyond_the_known_ones(repository_disagreements):
    new = [str(d) for d in repository_disagreements if (d.claim, d.kind, d.wording) not in KNOWN]
    assert not new, f"{len(new)} figure(s) disagree with their wording or quote:\n" + "\n".join(new)


def test_no_claim_of_the_repository_disagrees_with_its_own_words(repository_disagreements):
    assert [str(d) for d in repository_disagreements] == []


def test_the_loaded_files_and_the_frozen_dataset_give_the_same_disagreements(config, repository_disagreements):
    from_files = check_inputs(load(config))
    assert sorted(map(str, from_files)) == sorted(map(str, repository_disagreements))


def test_the_check_reads_every_figure_of_the_repository(kg):
    n = kg.select("PREFIX ck: <https://w3id.org/chainkg/ontology#> "
                  "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?q ck:originalWording ?w } }")[0]["n"]
    assert int(n) > 100  # so that a query that reads nothing cannot pass the tests above
    unparsed = [d for d in check_dataset(kg) if d.kind == "unparsed"]
    assert unparsed == []


def _copy_of_the_repository(tmp_path):
    root = tmp_path / "repo"
    for folder in ("ontology", "triples", "shapes"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def test_a_value_ten_times_too_small_in_the_real_triples_is_caught_by_name(tmp_path):
    root = _copy_of_the_repository(tmp_path)
    path = root / "triples" / "003_parks_listed_2024.trig"
    text = path.read_text(encoding="utf-8")
    assert text.count("ck:value 135140000000.0") == 1
    path.write_text(text.replace("ck:value 135140000000.0", "ck:value 13514000000.0"), encoding="utf-8")
    found = [d for d in check_inputs(load(Config(root=root))) if (d.claim, d.kind, d.wording) not in KNOWN]
    assert [(d.kind, d.wording) for d in found] == [("value", "1351.4亿元")]
    assert found[0].claim.startswith("https://w3id.org/chainkg/claim/003-")
    assert "1351.4亿元" in found[0].quote


def test_a_wording_changed_in_the_real_triples_is_caught_by_name(tmp_path):
    root = _copy_of_the_repository(tmp_path)
    path = root / "triples" / "003_parks_listed_2024.trig"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('ck:originalWording "1351.4亿元"@zh', 'ck:originalWording "1315.4亿元"@zh'), encoding="utf-8")
    found = [d for d in check_inputs(load(Config(root=root))) if (d.claim, d.kind, d.wording) not in KNOWN]
    assert sorted((d.kind, d.wording) for d in found) == [("value", "1315.4亿元"), ("wording", "1315.4亿元")]


def test_a_small_project_with_a_bad_figure(tmp_path):
    trig = PREFIXES + """
claim:900-investment {
    id:test-maker a ck:Enterprise ; rdfs:label "测试制造"@zh ;
        ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Investment ; ck:value 60000000.0 ;
            ck:hasVariable ck:ProjectTotalInvestment ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication ;
            ck:hasUnit ck:Yuan ; ck:hasQualifier ck:About ; ck:originalWording "约6亿元"@zh ] .
}
claim:900-investment a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试制造投资约6亿元"@zh .
"""
    root = make_project(tmp_path / "p", trig, MINI_SOURCES)
    found = check_inputs(load(Config(root=root)))
    assert [(d.claim, d.kind) for d in found] == [("https://w3id.org/chainkg/claim/900-investment", "value")]
    assert "600,000,000" in found[0].detail and "60,000,000" in found[0].detail


# -- the check as a build step ---------------------------------------------------------------------
def _chainkg_build(root, build_dir) -> subprocess.CompletedProcess:
    chainkg = Path(sys.executable).with_name("chainkg")
    return subprocess.run([str(chainkg), "--root", str(root), "--build-dir", str(build_dir), "build", "--force"],
                          capture_output=True, text=True, timeout=600)


def test_a_wrong_value_in_the_real_triples_stops_chainkg_build_with_claim_file_and_quote(tmp_path):
    root = _copy_of_the_repository(tmp_path)
    path = root / "triples" / "003_parks_listed_2024.trig"
    text = path.read_text(encoding="utf-8")
    assert text.count("ck:value 135140000000.0") == 1
    path.write_text(text.replace("ck:value 135140000000.0", "ck:value 13514000000.0"), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    wording_line = next(i for i, line in enumerate(lines, 1) if 'ck:originalWording "1351.4亿元"@zh' in line)
    claim = next(d.claim for d in check_inputs(load(Config(root=root))))

    run = _chainkg_build(root, tmp_path / "build")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "build failed" in out and "1 figure(s) disagree" in out, out
    line = next(x for x in out.splitlines() if x.startswith(f"{path}:"))
    assert line.startswith(f"{path}:{wording_line}: {claim.removeprefix('https://w3id.org/chainkg/claim/')}: value: ")
    assert "1351.4亿元" in line and "13,514,000,000" in line and "quote '" in line, line
    assert "figures " in out and "reason " not in out  # it stopped before reasoning
    assert not list((tmp_path / "build").glob("*/dataset.nq"))  # and saved nothing


def test_the_build_step_reports_the_figures_it_checked(mini_config):
    from chainkg.build.pipeline import build

    said = []
    build(mini_config, force=True, progress=said.append)
    line = next(x for x in said if x.startswith("figures "))
    assert line.endswith("1 figures agree with their wording and quotes"), said


def test_a_wording_outside_the_quote_stops_the_build_of_a_small_project(tmp_path):
    from chainkg.build.pipeline import FiguresDisagree, build

    trig = PREFIXES + """
claim:900-investment {
    id:test-maker a ck:Enterprise ; rdfs:label "测试制造"@zh , "Test Maker"@en ; skos:prefLabel "测试制造"@zh ;
        ck:locatedIn id:laoshan-district ;
        ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Investment ; ck:value 600000000.0 ;
            ck:hasVariable ck:ProjectTotalInvestment ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication ;
            ck:hasUnit ck:Yuan ; ck:hasQualifier ck:About ; ck:originalWording "约6亿元"@zh ] .
}
claim:900-investment a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试制造投资约5亿元"@zh .
"""
    root = make_project(tmp_path / "p", trig, MINI_SOURCES)
    with pytest.raises(FiguresDisagree) as e:
        build(Config(root=root, build_dir=root / "build"))
    path = root / "triples" / "900_test.trig"
    wording_line = 1 + path.read_text(encoding="utf-8").splitlines().index(
        '            ck:hasUnit ck:Yuan ; ck:hasQualifier ck:About ; ck:originalWording "约6亿元"@zh ] .')
    [(file, line, d)] = e.value.disagreements
    assert (file, line, d.kind) == (str(path), wording_line, "wording")
    assert f"900_test.trig:{wording_line}: 900-investment: wording: " in str(e.value)
    assert "'测试制造投资约5亿元'" in str(e.value)
