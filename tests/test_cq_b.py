"""Competency questions owned by helper B (articles 002 and 003: the emerging-industry parks).

Each test runs the saved query on the built graph and checks labels and numbers from
../shared/competency/questions.md, never IRIs."""

from __future__ import annotations

from decimal import Decimal

BOE_BASE = "https://w3id.org/chainkg/id/boe-qingdao-base"
SRC_003 = "003_a1e44f84e3f55845"


def _labels(rows, *keys):
    out = set()
    for r in rows:
        for k in keys:
            if r.get(k):
                out.add(r[k])
    return out


def _has(labels, needle):
    return any(needle in label for label in labels)


def test_cq02_ic_park_tenants(saved):
    rows = saved("cq02-ic-park-tenants")
    labels = _labels(rows, "label", "labelEn")
    for needle in (
        "中微创芯",
        "四方思锐",
        "合肥贝斯兰湿法设备总部研发生产基地",
        "科新微电子芯片设计总部",
        "五洲通达集成电路备件中心仓",
        "中科仪(南通)半导体设备",
    ):
        assert _has(labels, needle), needle
    # the IPM project of 中微创芯 is among them, and it is in production
    ipm = [r for r in rows if "IPM" in (r.get("label") or "")]
    assert ipm and any(r.get("stageLabel") == "已投产" for r in ipm)
    branch = [r for r in rows if "中科仪" in (r.get("label") or "")]
    assert any("青岛分公司" in r["label"] for r in branch)


def test_cq08_laoshan_parks(saved):
    rows = saved("cq08-laoshan-parks")
    labels = _labels(rows, "label", "labelEn")
    assert _has(labels, "虚拟现实产业园")
    assert _has(labels, "人工智能产业园")
    vr = [r for r in rows if "虚拟现实产业园" in r["label"]]
    assert any(SRC_003 in (r.get("sources") or "") for r in vr)
    assert all(r.get("evidence") for r in vr)


def test_cq09_display_park_chain_leader_and_leaders(saved):
    rows = saved("cq09-display-park-leaders")
    leaders = {r["label"] for r in rows if r["role"].startswith("chain leader")}
    assert "京东方" in leaders
    boe = [r for r in rows if r["label"] == "京东方" and r["role"].startswith("chain leader")]
    assert any(r.get("baseLabel") == "京东方青岛生产基地" for r in boe)
    assert any("链主" in r["evidence"] for r in boe)
    others = {r["label"] for r in rows if r["role"].startswith("leading")}
    for name in ("海信视像", "融合光电", "万达光电"):
        assert name in others, name


def test_cq13_projects_end_of_march_2024(saved):
    rows = saved("cq13-park-projects-march-2024")
    by_stage = {r["stageLabelEn"]: r for r in rows}
    uc = by_stage["under construction"]
    assert Decimal(uc["projects"]) == 50
    assert Decimal(uc["plannedInvestment"]) == Decimal("135140000000")
    assert uc["investmentWording"] == "1351.4亿元"
    assert uc["time"] == "2024-03-31"  # "截至2024年3月底", an instant
    signed = by_stage["signed"]
    assert Decimal(signed["projects"]) == 13
    assert Decimal(signed["plannedInvestment"]) == Decimal("33790000000")
    assert signed["investmentWording"] == "337.9亿元"
    assert all(SRC_003 in r["source"] for r in rows)


def test_cq16_ic_park_april_2024_signings(saved):
    rows = saved("cq16-ic-park-april-2024-signings")
    inv = {r["label"]: Decimal(r["investment"]) for r in rows if r.get("investment")}
    assert inv.get("合肥贝斯兰湿法设备总部研发生产基地") == Decimal("600000000")
    assert inv.get("科新微电子芯片设计总部") == Decimal("900000000")
    wordings = _labels(rows, "wording")
    assert {"6亿元", "9亿元"} <= wordings
    assert all(r["signingDate"].startswith("2024-04") for r in rows)


def test_cq17_ic_equipment_and_materials(saved):
    rows = saved("cq17-ic-equipment-materials")
    labels = _labels(rows, "label", "labelEn")
    for needle in ("四方思锐", "惠科微电子", "合肥贝斯兰", "中科仪(南通)半导体设备"):
        assert _has(labels, needle), needle
    sirui = [r for r in rows if r["label"] == "四方思锐"]
    assert sirui and sirui[0]["segmentLabelEn"] == "semiconductor equipment"
    products = " ".join(r.get("products") or "" for r in sirui)
    assert "原子层沉积" in products and "离子注入" in products
    huike = [r for r in rows if r["label"] == "惠科微电子"]
    assert any(r["segmentLabelEn"] == "semiconductor materials" for r in huike)


def test_cq18_national_innovation_centres(saved):
    rows = saved("cq18-national-innovation-centres")
    labels = _labels(rows, "label")
    assert "国家虚拟现实创新中心(青岛)" in labels
    assert "国家高端智能化家用电器创新中心" in labels


def test_cq20_parks_in_ftz_and_etdz(saved):
    rows = saved("cq20-parks-ftz-etdz")
    pairs = {(r["zoneLabel"], r["parkLabel"]) for r in rows}
    assert ("青岛自贸片区", "青岛市集成电路产业园") in pairs
    assert ("青岛经济技术开发区", "青岛市新型显示产业园") in pairs


def test_cq24_park_funds(saved):
    rows = saved("cq24-park-funds")
    by_metric = {r["metricLabelEn"]: r for r in rows}
    assert Decimal(by_metric["count"]["value"]) == 20
    assert Decimal(by_metric["fund size"]["value"]) == Decimal("17260000000")
    assert by_metric["fund size"]["wording"] == "172.6亿元"
    assert Decimal(by_metric["paid-in capital"]["value"]) == Decimal("11780000000")
    assert Decimal(by_metric["amount invested"]["value"]) == Decimal("10680000000")
    assert all("20支基金" in r["evidence"] for r in rows)


def test_cq25_statements_about_boe_base(saved):
    rows = saved("cq25-statements-about-enterprise")
    assert rows
    sources = {r["source"].rsplit("/", 1)[1] for r in rows}
    # the BOE Qingdao base is described in all four articles that mention it
    assert {"000_dbc5086fd4006f11", "001_8c6f0302f342d69b", "002_f959508444485886", SRC_003} <= sources
    assert all(r.get("evidence") for r in rows)
    # 003: Wanda supplies it and its capacity is 1.5亿片
    r003 = [r for r in rows if SRC_003 in r["source"]]
    assert any(r.get("propertyLabel") == "supplies" and r.get("objectLabel") == "万达光电(青岛)智造生产基地" for r in r003)
    assert any(r.get("objectLabel") == "1.5亿片" for r in r003)
    assert any("不到一公里" in r["evidence"] for r in r003)
    # parameter: another enterprise
    rows = saved("cq25-statements-about-enterprise", enterprise="https://w3id.org/chainkg/id/sifang-sirui")
    assert any(r.get("objectLabel") == "青岛市集成电路产业园" for r in rows)
