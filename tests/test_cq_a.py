"""Competency questions answered by articles 000 and 001 (helper A).

Each test runs the saved query of one question on the built graph and checks the labels
and numbers that questions.md lists; never IRIs.
"""

from __future__ import annotations

from decimal import Decimal


def values(rows, key):
    return {r.get(key) for r in rows if r.get(key) is not None}


def num(x) -> Decimal:
    return Decimal(str(x))


def test_cq01_ic_sub_tracks(saved):
    rows = saved("cq01-ic-sub-tracks")
    zh = values(rows, "label")
    en = values(rows, "labelEn")
    for label in ("车规级芯片", "磁存储芯片", "先进封装", "新型显示技术"):
        assert label in zh, label
    for label in ("automotive-grade chips", "magnetic storage chips", "advanced packaging"):
        assert label in en, label
    sources = {s.rsplit("/", 1)[-1] for s in values(rows, "source")}
    assert {"000_dbc5086fd4006f11", "001_8c6f0302f342d69b"} <= sources


def test_cq03_supplier_of_boe_base(saved):
    rows = saved("cq03-supplier-of-base")
    labels = values(rows, "supplierLabel") | values(rows, "supplierLabelEn")
    assert any("万达光电" in label or "Wanda" in label for label in labels)
    wanda = [r for r in rows if "万达光电" in r["supplierLabel"]]
    # nearness: across the road (000, 001), stated as adjacency and in the evidence
    assert any(r.get("adjacent") in ("true", "1") for r in wanda)
    evidence = " ".join(values(wanda, "evidence"))
    assert "一街之隔" in evidence
    assert "Across the road" in evidence
    # and "less than 1 km" (article 003)
    km = [r for r in wanda if r.get("distance") is not None]
    assert any(num(r["distance"]) == 1 and r.get("distanceQualifier") == "less than" for r in km), wanda


def test_cq04_datang_semiconductor(saved):
    rows = saved("cq04-enterprise-district-founding-segment")
    assert rows
    assert "崂山区" in values(rows, "district")
    assert "Laoshan District" in values(rows, "districtEn")
    assert "2018" in values(rows, "founded")
    assert "IC design" in values(rows, "segmentEn")
    assert any("end of 2018" in e for e in values(rows, "evidence"))


def test_cq05_shandong_cities_top100(saved):
    rows = saved("cq05-shandong-cities-ic-top100")
    ranks = {}
    for r in rows:
        ranks.setdefault(r["cityLabelEn"], set()).add(int(r["rank"]))
    assert ranks.get("Jinan") == {78}
    assert ranks.get("Qingdao") == {82}
    assert ranks.get("Dezhou") == {99}
    assert "2025" in values(rows, "year")
    dezhou = [r for r in rows if r["cityLabelEn"] == "Dezhou"]
    assert any(r.get("note") == "新上榜" for r in dezhou)


def test_cq06_power_chip_makers(saved):
    rows = saved("cq06-power-chip-makers")
    makers = values(rows, "enterpriseLabelEn")
    assert "XIN EN (Qingdao) Integrated Circuit Co., Ltd." in makers
    assert "Huike Microelectronics" in makers
    xin_en = [r for r in rows if r["enterpriseLabelEn"].startswith("XIN EN")]
    assert "power chips" in values(xin_en, "productLabelEn")
    assert any("8-inch" in (r.get("siteLabelEn") or "") for r in xin_en)
    huike = [r for r in rows if r["enterpriseLabelEn"] == "Huike Microelectronics"]
    assert "power devices" in values(huike, "productLabelEn")
    assert any("6-inch" in (r.get("siteLabelEn") or "") for r in huike)


def test_cq07_aic_funds(saved):
    rows = saved("cq07-aic-funds")
    companies = values(rows, "companyLabelEn")
    assert len(companies) == 5
    for bank in ("ABC", "ICBC", "BOC", "CCB", "BOCOM"):
        assert any(c.startswith(bank + " Financial Asset") for c in companies), bank


def test_cq11_vehicle_makers(saved):
    rows = saved("cq11-vehicle-makers")
    makers = values(rows, "makerLabelEn")
    for maker in ("FAW", "SAIC-GM-Wuling", "Chery", "BAIC"):
        assert maker in makers, maker
    # article 002 adds the FAW group's bases (FAW-Volkswagen East China base, FAW Jiefang)
    assert any(r["source"].endswith("002_f959508444485886") for r in rows if r.get("source"))
    assert {"FAW-Volkswagen", "FAW Jiefang"} <= makers
    assert "FAW-Volkswagen East China base" in values(rows, "baseLabelEn")


def test_cq12_qcig_figures(saved):
    rows = saved("cq12-investment-platform-figures")
    by_metric = {}
    for r in rows:
        by_metric.setdefault(r["metricLabel"], set()).add((num(r["value"]), r.get("qualifier")))
    assert (Decimal(641), None) in by_metric["count"]
    assert (Decimal(30_000_000_000), "over") in by_metric["amount invested"]
    assert (Decimal(60_000_000_000), "over") in by_metric["capital leveraged"]


def test_cq14_ic_park_key_enterprises_by_source(saved):
    rows = saved("cq14-ic-park-key-enterprises-investment")
    from_001 = [r for r in rows if r["source"].endswith("001_8c6f0302f342d69b")]
    counts = {num(r["value"]) for r in from_001 if r["metricLabel"] == "count"}
    invest = {(num(r["value"]), r.get("qualifier")) for r in from_001 if r["metricLabel"] == "investment"}
    assert Decimal(48) in counts
    assert (Decimal(180_000_000_000), "about") in invest
    # article 004's figures are kept beside them, never merged
    from_004 = [r for r in rows if r["source"].endswith("004_8919c6d862aedb1d")]
    assert Decimal(40) in {num(r["value"]) for r in from_004 if r["metricLabel"] == "count"}
    assert Decimal(179_300_000_000) in {num(r["value"]) for r in from_004 if r["metricLabel"] == "investment"}
    assert "1793亿元" in {r.get("wording") for r in from_004}


def test_cq15_xin_en_founder_and_fab(saved):
    rows = saved("cq15-founder-and-first-fab")
    assert "张汝京" in values(rows, "founderLabel")
    assert "Zhang Rujing" in values(rows, "founderLabelEn")
    assert "2018" in values(rows, "productionStart")
    yields = [r for r in rows if r.get("yield") is not None]
    assert any(num(r["yield"]) == 90 and r.get("yieldQualifier") == "over" for r in yields)


def test_cq19_boe_base_capacity(saved):
    rows = saved("cq19-base-capacity")
    lines = [r for r in rows if r["metricLabel"] == "count"]
    assert any(num(r["value"]) == 47 and r["source"].endswith("001_8c6f0302f342d69b") for r in lines)
    assert all(r["modality"] == "actual" for r in lines)
    capacity = [r for r in rows if r["metricLabel"] == "production capacity"]
    # "after the project reaches full production" / "预计满产后": expected, never achieved
    assert any(num(r["value"]) == 150_000_000 for r in capacity)
    assert {r["modality"] for r in capacity} == {"expected"}


def test_cq21_ic_output_target(saved):
    rows = saved("cq21-ic-output-target")
    assert any(num(r["value"]) == 200_000_000_000 and r["targetYear"] == "2027" for r in rows)


def test_cq22_early_home_appliance_chips(saved):
    rows = saved("cq22-early-home-appliance-chips")
    hisense = [r for r in rows if r["companyLabelEn"] == "Hisense"]
    haier = [r for r in rows if r["companyLabelEn"] == "Haier"]
    assert {"2000", "2005"} <= values(hisense, "date")
    assert "信芯" in values(hisense, "chipLabel")
    assert any(r.get("generation") and num(r["generation"]) == 5 for r in hisense)
    assert {"2000", "2003"} <= values(haier, "date")
    assert any("set-top box" in (r.get("chipLabelEn") or "") for r in haier)
