"""Competency questions owned by helper C (article 004, the "10+1" innovative industrial system).

Labels and numbers only, never IRIs.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal


def test_cq10_ten_plus_one_industries_by_category(saved):
    rows = saved("cq10-ten-plus-one-industries")
    assert rows, "the query returned nothing"
    by_category = defaultdict(set)
    counts = {}
    for r in rows:
        name = r["categoryName"]
        counts[name] = r.get("countWording")
        if r.get("industryLabel"):
            by_category[name].add(r["industryLabel"])

    assert by_category["先导产业"] == {"新一代信息技术", "人工智能"}
    assert by_category["新兴产业"] == {"生命健康", "智能网联新能源汽车", "低空经济", "绿色能源", "智能装备"}
    assert by_category["优势产业"] == {"智能家电", "高端化工与新材料", "现代轻工"}
    # the future industries are "1 batch", not named in the article
    assert "未来产业" in counts
    assert by_category["未来产业"] == set()

    assert counts["先导产业"] == "2个"
    assert counts["新兴产业"] == "5个"
    assert counts["优势产业"] == "3个"
    assert counts["未来产业"] == "1批"
    for r in rows:
        if r.get("industry"):
            assert r["source"].endswith("004_8919c6d862aedb1d")


def test_cq10_other_plan_west_coast(saved):
    # the same query answers for a district's system: the West Coast's "5+5+7"
    rows = saved("cq10-ten-plus-one-industries", plan="https://w3id.org/chainkg/id/west-coast-5-5-7-industries")
    labels = {r["industryLabel"] for r in rows if r.get("industryLabel")}
    assert {"家电", "深海开发", "人工智能"} <= labels


def _figure(rows, kind, metric_label):
    hits = [r for r in rows if r["kind"] == kind and r["metricLabel"] == metric_label]
    assert len(hits) == 1, (kind, metric_label, hits)
    return hits[0]


def test_cq23_jimo_vehicle_output_and_target(saved):
    rows = saved("cq23-jimo-vehicle-output")
    assert rows, "the query returned nothing"

    output = _figure(rows, "actual", "产量")
    assert Decimal(output["value"]) == Decimal(450000)
    assert output["qualifierLabel"] == "超过"
    assert output["originalWording"] == "突破45万辆"
    assert output["time"] == "2024"

    growth = _figure(rows, "actual", "增速")
    assert Decimal(growth["value"]) == Decimal(15)

    share = _figure(rows, "actual", "占比")
    assert Decimal(share["value"]) == Decimal(20)
    assert share["qualifierLabel"] == "超过"

    target = _figure(rows, "target", "产量")
    assert Decimal(target["value"]) == Decimal(500000)
    assert target["targetYear"] == "2025"

    target_share = _figure(rows, "target", "占比")
    assert Decimal(target_share["value"]) == Decimal(30)

    for r in rows:
        assert r["source"].endswith("004_8919c6d862aedb1d")
        assert "即墨区" in r["evidence"] or "整车产量" in r["evidence"]
