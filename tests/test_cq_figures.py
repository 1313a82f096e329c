"""Figures as observations and stages as dated milestones (issue #12 items 1, 2, 9): CQ26-CQ31,
conflicting-figures, figures-of and current-stage on the built graph. Labels, numbers and times only."""

from __future__ import annotations

from decimal import Decimal

SRC_001 = "001_8c6f0302f342d69b"
SRC_002 = "002_f959508444485886"
SRC_003 = "003_a1e44f84e3f55845"
SRC_004 = "004_8919c6d862aedb1d"
ID = "https://w3id.org/chainkg/id/"


def num(v) -> Decimal:
    return Decimal(v)


def test_cq26_wanda_stage_by_article_with_time(saved):
    rows = saved("cq26-project-stages")
    by_source = {}
    for r in rows:
        by_source.setdefault(r["source"].rsplit("/", 1)[1], set()).add((r["stageLabel"], r["time"], r["timeBasis"], r["modality"]))
    # 002 (August 2022): main structure under construction; 003 (April 2024): producing. Neither overwrites the other.
    assert by_source[SRC_002] == {("在建", "2022-08", "published", "actual")}
    assert by_source[SRC_003] == {("已投产", "2024-04", "published", "actual")}
    assert any("加紧主体施工" in r["evidence"] for r in rows if r["source"].endswith(SRC_002))
    assert any("成功下线" in r["evidence"] for r in rows if r["source"].endswith(SRC_003))


def test_current_stage_is_the_latest_actual_milestone(saved):
    rows = {r["project"]: r for r in saved("current-stage")}
    wanda = rows[ID + "wanda-optoelectronics-qingdao-base"]
    assert (wanda["stageLabel"], wanda["since"], wanda["timeBasis"]) == ("in production", "2024-04", "published")
    # signed and topped out on the same (publication) date: the later stage wins
    assert rows[ID + "hanbo-optoelectronics-production-base"]["stageLabel"] == "topped out"
    # the expected grid connection (March 2025) is not current: phase one is under construction
    pv = rows[ID + "powerchina-offshore-pv-phase-one"]
    assert pv["stageLabel"] == "under construction"
    # a stated time is kept as stated
    xin_en = rows[ID + "xin-en-8inch-fab"]
    assert (xin_en["since"], xin_en["timeBasis"]) == ("2018", "stated")
    assert len(saved("current-stage", project=ID + "xin-en-8inch-fab")) == 1


def test_cq27_ic_park_figures_as_of_when(saved):
    rows = saved("cq27-ic-park-figures-over-time")
    got = {(r["variableLabel"], num(r["value"]), r["time"], r["timeBasis"], r["source"].rsplit("/", 1)[1]) for r in rows}
    assert got == {
        ("key enterprises settled", Decimal(40), "2025-01", "published", SRC_004),
        ("key enterprises settled", Decimal(48), "2026-01-08", "published", SRC_001),
        ("total investment of the key enterprises settled", Decimal(179_300_000_000), "2025-01", "published", SRC_004),
        ("total investment of the key enterprises settled", Decimal(180_000_000_000), "2026-01-08", "published", SRC_001),
    }
    assert {r.get("qualifierLabel") for r in rows if r["wording"] == "about 180 billion yuan"} == {"about"}
    assert {r["modality"] for r in rows} == {"actual"}


def test_cq28_achieved_versus_expected(saved):
    rows = saved("cq28-achieved-and-expected")
    got = {(r["subject"].rsplit("/", 1)[1], r["modality"], num(r["value"])) for r in rows}
    assert ("boe-qingdao-base", "actual", Decimal(47)) in got
    assert ("boe-qingdao-base", "expected", Decimal(150_000_000)) in got
    assert ("qingdao-super-large-panel-open-cell-project", "actual", Decimal(3_000_000_000)) in got
    assert ("qingdao-super-large-panel-open-cell-project", "expected", Decimal(30_000_000_000)) in got
    # the full-production capacity is never stored as achieved, in either article
    assert not any(m == "actual" and v == Decimal(150_000_000) for _, m, v in got)


def test_cq29_targets_and_expectations_2025_none_achieved(saved):
    rows = saved("cq29-targets-and-expectations-2025")
    assert rows and all(r["modality"] != "actual" for r in rows)
    jimo = [r for r in rows if r["districtIri"] == ID + "jimo-district"]
    licang = [r for r in rows if r["districtIri"] == ID + "licang-district"]
    assert {r.get("wording") for r in jimo if r["kind"] == "figure"} >= {"千亿级", "突破50万辆", "达到30%"}
    assert len({r["item"] for r in jimo if r.get("wording") == "千亿级"}) == 2  # automotive and green energy
    grid = [r for r in jimo if r["kind"] == "milestone"]
    assert any(r["what"].endswith("StageGridConnection") and r["time"] == "2025-03" and r["modality"] == "expected" for r in grid)
    assert {(r.get("wording"), num(r["value"])) for r in licang if r["kind"] == "figure"} >= {("3个", Decimal(3)), ("5个", Decimal(5))}
    assert all(r["modality"] == "target" for r in licang)
    assert {r["districtIri"] for r in saved("cq29-targets-and-expectations-2025", district=ID + "licang-district")} == {ID + "licang-district"}


def test_cq30_licang_life_health_measures(saved):
    rows = saved("cq30-work-measures")
    measures = {r["measureLabel"] for r in rows}
    assert {"制定生命健康产业发展计划", "编制生命健康产业招引图谱", "常态化联络驻省市重点高校院所", "项目招建并进攻坚行动"} <= measures
    in_campaign = {r["concernsLabel"] for r in rows if r.get("campaignLabel") == "项目招建并进攻坚行动"}
    assert {"财宝产业园", "彩晖生物", "未来生物", "耀洲·新经济产业园", "华润·健康小镇"} <= in_campaign
    assert {r["modality"] for r in rows} == {"target"}  # "李沧区将……": planned, not done
    assert all(r["source"].endswith(SRC_004) for r in rows)


def test_cq30_planned_focuses_are_target_measures(saved):
    """Issue #12: a district's future-worded focus (将聚焦, 下一步将瞄准, 将集中力量打造) is a target work measure, so
    CQ30 answers it as planned; the district states no ck:focusesOn of it (a focus has no time or modality)."""
    rows = saved("cq30-work-measures", district=ID + "jimo-district", industry=ID + "green-energy-industry")
    got = {(r["measureLabel"], r["modality"], r["time"]) for r in rows}
    assert {("瞄准风电装备制造、海上风光氢储等赛道", "target", "2025-01"),
            ("集中力量打造汽车和绿色能源两个千亿级产业", "target", "2025")} <= got
    life = {r["measureLabel"] for r in saved("cq30-work-measures")}
    assert "聚焦合成生物、基因和细胞诊疗、医疗器械、医疗服务等细分赛道" in life


def test_no_place_focus_from_a_plan_clause(kg):
    """The claims issue #12 converted state no ck:focusesOn of the district or park any more."""
    converted = ["004-jimo-energy-tracks", "004-jimo-two-industries", "004-jimo-vehicle-targets", "004-jimo-deep-sea",
                 "004-chengyang-next-steps", "004-licang-3-2-4", "004-licang-life-health-tracks", "004-shibei-light-industry",
                 "004-jiaozhou-sub-tracks", "004-jiaozhou-yihai-kerry", "004-laoshan-smart-home-upstream",
                 "004-laoshan-ai-2025-plan", "004-shinan-ai-models", "004-new-display-park-plans", "002-vr-park-goal"]
    for name in converted:
        g = "https://w3id.org/chainkg/claim/" + name
        q = (f"PREFIX ck: <https://w3id.org/chainkg/ontology#> ASK {{ GRAPH <{g}> {{ ?s ck:hasMeasure ?m }} "
             f"FILTER NOT EXISTS {{ GRAPH <{g}> {{ ?s ck:focusesOn ?x }} }} }}")
        assert bool(kg.query(q)), name

def test_cq31_figures_of_the_ic_park_have_every_column(saved):
    rows = saved("figures-of", entity=ID + "qingdao-ic-industrial-park")
    assert rows
    for r in rows:
        for column in ("figure", "metric", "metricLabel", "variableLabel", "modality", "value", "unit", "wording",
                       "time", "timeBasis", "claim", "source", "sourceTitle", "evidence"):
            assert r.get(column), (column, r)
        assert r["modality"] in {"actual", "target", "expected", "design", "estimate"}
        assert r["timeBasis"] in {"stated", "published"}
    figures = {r["figure"] for r in rows}
    assert len(rows) == len({(r["figure"], r["claim"], r["evidence"]) for r in rows})  # one row per figure and quote
    assert ID + "figure/qingdao-ic-industrial-park--key-enterprises-settled--2025-01--actual" in figures
    funds = [r for r in rows if r["wording"] == "exceeded 14 billion yuan"]
    assert funds and funds[0]["time"] == "2024" and funds[0]["timeBasis"] == "stated"  # a flow over the year 2024
    assert num(funds[0]["minValue"]) == Decimal(14_000_000_000)


def test_figures_of_bounds_of_an_order_of_magnitude(saved):
    rows = saved("figures-of", entity=ID + "jimo-district")
    magnitudes = [r for r in rows if r["wording"] == "千亿级"]
    assert len({r["figure"] for r in magnitudes}) == 2
    for r in magnitudes:  # 千亿级 is [1e11, 1e12), not "at least 1e11"
        assert (num(r["minValue"]), num(r["maxValue"])) == (Decimal(10) ** 11, Decimal(10) ** 12)
        assert r["modality"] == "target" and r["time"] == "2025"


def test_conflicting_figures_only_the_ic_park_key_enterprises(saved):
    rows = saved("conflicting-figures")
    assert [(r["subject"], num(r["value1"]), num(r["value2"])) for r in rows] == [
        (ID + "qingdao-ic-industrial-park", Decimal(40), Decimal(48))]
    assert rows[0]["variableLabel"] == "key enterprises settled" and rows[0]["modality"] == "actual"


def test_targets_are_not_quantities(kg):
    # ck:hasTarget is no longer under ck:hasQuantity: no target answers a query for achieved figures
    rows = kg.select("""PREFIX ck: <https://w3id.org/chainkg/ontology#>
        SELECT ?f WHERE { ?s ck:hasQuantity ?f . ?f ck:hasModality ?m . FILTER (?m NOT IN (ck:ModalityActual, ck:ModalityEstimate)) }""")
    assert list(rows) == []
