"""Geography complete (issue #12 item 6): every place, park, zone and project of the graph reaches
Qingdao (or, outside Qingdao, its own city or region) through ck:locatedIn, except the few things no
article and no public administrative geography locates; new areas and zones answer the saved query
by district."""

from __future__ import annotations

ID = "https://w3id.org/chainkg/id/"

# Parks in another city (each reaches that city, not Qingdao).
OUTSIDE_QINGDAO = {
    # 上海湾区高新技术产业开发区: 002 cites it as a model from Shanghai
    "shanghai-bay-area-hightech-zone",
}
# Things that reach no city at all, each with the reason. Nothing else may be missing.
UNLOCATED = {
    # 002 says only that 崂山生物医药健康产业园 relies on it; neither an article nor administrative
    # geography says where the base lies.
    "national-health-tourism-demo-base":
        "no article says where the national health tourism demonstration base lies",
    # 001: "the 6-inch new power device production line ... was put into operation" (Huike
    # Microelectronics); the article does not say where the line is.
    "huike-6inch-power-device-line": "001 names no place for Huike's 6-inch line",
    # 000: "物元半导体技术(青岛)有限公司试验线"; the company's name is not the line's location.
    "wuyuan-test-line": "000 names no place for Wuyuan's test line",
}

# Countries, provinces, regions and cities are the frame, not things to locate.
FRAME = "FILTER NOT EXISTS { VALUES ?frame { ck:City ck:Province ck:Country ck:Region } ?x a ?frame }"

UNREACHED = """
SELECT DISTINCT ?x WHERE {
  VALUES ?t { ck:Place ck:Project }
  ?x a ?t .
  FILTER (STRSTARTS(STR(?x), STR(id:)))
  FRAME
  FILTER NOT EXISTS { ?x ck:locatedIn+ ?city . ?city a ck:City }
}
""".replace("FRAME", FRAME)

ELSEWHERE = """
SELECT DISTINCT ?x WHERE {
  VALUES ?t { ck:Place ck:Project }
  ?x a ?t .
  FILTER (STRSTARTS(STR(?x), STR(id:)))
  FRAME
  ?x ck:locatedIn+ ?city . ?city a ck:City .
  FILTER NOT EXISTS { ?x ck:locatedIn+ id:qingdao }
}
""".replace("FRAME", FRAME)


def local(iri: str) -> str:
    assert iri.startswith(ID), iri
    return iri[len(ID):]


def test_every_place_and_project_reaches_a_city_or_is_a_documented_exception(kg):
    missing = {local(r["x"]) for r in kg.select(UNREACHED)}
    assert missing == set(UNLOCATED), (
        f"undocumented: {sorted(missing - set(UNLOCATED))}; "
        f"now located, drop from UNLOCATED: {sorted(set(UNLOCATED) - missing)}")


def test_only_the_documented_places_lie_in_another_city(kg):
    assert {local(r["x"]) for r in kg.select(ELSEWHERE)} == OUTSIDE_QINGDAO


def test_parks_and_zones_reach_their_district_or_new_area(kg):
    expected = {
        # background: State Council, Guo Han [2014] No. 71 (the new area is all of Huangdao District)
        "huangdao-district": "west-coast-new-area",
        "qingdao-etdz": "huangdao-district",
        "qingdao-free-trade-zone": "west-coast-new-area",
        "dongjiakou-port-area": "huangdao-district",
        "qingdao-blue-valley-hightech-zone": "jimo-district",
        # articles: 003 (位于崂山区, 位于青岛经济技术开发区, 位于青岛自贸片区), 002 (park names)
        "qingdao-vr-industrial-park": "laoshan-district",
        "vr-park-supporting-area": "laoshan-district",
        "qingdao-ai-park-zhisuan-valley-core": "laoshan-district",
        "laoshan-software-info-services-park": "laoshan-district",
        "laixi-nev-industrial-park": "laixi",
        "qingdao-new-display-industrial-park": "west-coast-new-area",
        "liandong-u-valley": "huangdao-district",
        "boe-qingdao-base": "west-coast-new-area",
        "qingdao-ic-industrial-park": "huangdao-district",
    }
    wrong = [f"{a} -> {b}" for a, b in expected.items()
             if not kg.query(f"ASK {{ id:{a} ck:locatedIn+ id:{b} }}")]
    assert not wrong, wrong
    # containment runs one way: the district is in the new area, not the new area in the district
    assert not kg.query("ASK { id:west-coast-new-area ck:locatedIn+ id:huangdao-district }")


def by_district(kg, saved_queries, district: str) -> list[dict]:
    text, subs = saved_queries["enterprises-by-district"].prepare({"district": [ID + district], "lang": "en"})
    return kg.select(text, substitutions=subs)


def test_enterprises_by_district_accepts_new_areas_and_zones(kg, saved_queries):
    west = by_district(kg, saved_queries, "west-coast-new-area")
    etdz = by_district(kg, saved_queries, "qingdao-etdz")
    huangdao = by_district(kg, saved_queries, "huangdao-district")
    assert etdz, "no enterprise in the ETDZ"
    assert {r["district"] for r in west} == {ID + "west-coast-new-area"}
    ent = lambda rows: {r["enterprise"] for r in rows}  # noqa: E731
    # everything in the ETDZ is in Huangdao District, and everything in Huangdao in the new area
    assert ent(etdz) <= ent(huangdao) <= ent(west)
    assert all(r.get("districtLabel") == "Qingdao West Coast New Area" for r in west)
