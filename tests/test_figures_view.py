"""The Figures section of entity pages (issue #13 item 4) on the repository's own graph: the saved
query figures-of, the table, the SVG chart (parsed), checked against the articles' own words; and
the 404 of an unknown saved query's JSON twin."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chainkg.web import charts
from chainkg.web.app import create_app

ID = "https://w3id.org/chainkg/id/"
SVG = "{http://www.w3.org/2000/svg}"
SOURCES = Path(__file__).resolve().parents[2] / "shared" / "sources"
IC_PARK = ID + "qingdao-ic-industrial-park"


@pytest.fixture(scope="module")
def client(config, kg):
    return create_app(config, kg).test_client()


def figures_json(client, slug: str, lang: str = "en") -> dict:
    r = client.get(f"/id/{slug}.json?lang={lang}")
    assert r.status_code == 200
    return r.get_json()["figures"]


def chart_of(html: str) -> ET.Element:
    m = re.search(r"<svg [^>]*class=\"figures-chart\".*?</svg>", html, re.S)
    assert m, "no figures chart on the page"
    return ET.fromstring(m.group(0))


def source_text(prefix: str) -> str:
    files = sorted(SOURCES.glob(prefix + "_*.txt"))
    if not files:
        pytest.skip(f"article {prefix} not in {SOURCES}")
    return files[0].read_text(encoding="utf-8")


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_the_ic_park_figures_from_two_articles(client):
    figs = figures_json(client, "qingdao-ic-industrial-park")
    assert figs["error"] is None
    by_wording = {f["wording"]: f for f in figs["rows"]}
    # article 004: 40 key enterprises, total investment 1793亿元; article 001: 48 and about 180 billion
    assert by_wording["40家"]["raw_value"] == "40" and by_wording["1793亿元"]["raw_value"] == "179300000000"
    assert by_wording["48 key enterprises"]["raw_value"] == "48"
    assert by_wording["about 180 billion yuan"]["raw_value"] == "180000000000"
    assert by_wording["1793亿元"]["value"] == "179,300,000,000" and by_wording["1793亿元"]["unit"] == "yuan"
    assert {by_wording[w]["modality"] for w in ("40家", "48 key enterprises")} == {"actual"}
    assert by_wording["40家"]["source"].startswith("https://w3id.org/chainkg/source/004_")
    assert by_wording["48 key enterprises"]["source"].startswith("https://w3id.org/chainkg/source/001_")
    # every evidence quote is the article's own words
    for f in figs["rows"]:
        article = source_text(f["source"].rsplit("/", 1)[1].split("_")[0])
        assert f["evidence"], f
        for quote in f["evidence"]:
            assert squash(quote) in squash(article), quote
    assert any("相继落户40家重点企业，总投资1793亿元" in q for q in by_wording["40家"]["evidence"])


def test_the_page_shows_the_table_and_a_chart_of_the_figures_with_a_time(client):
    r = client.get("/id/qingdao-ic-industrial-park.html?lang=zh")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<section class="figures" id="figures">' in html
    table = html[html.index('id="figures-table"'):html.index("</table>", html.index('id="figures-table"'))]
    for text in ("40家", "1793亿元", "48 key enterprises", "about 180 billion yuan", "179,300,000,000"):
        assert text in table
    svg = chart_of(html)
    assert svg.find(SVG + "title").text == "青岛市集成电路产业园"  # accessible name
    assert svg.get("role") == "img" and svg.find(SVG + "desc") is not None
    points = svg.findall(f".//{SVG}circle[@class='point actual']")
    figs = figures_json(client, "qingdao-ic-industrial-park", "zh")
    timed = [f for f in figs["rows"] if charts.time_position(f["time"]) is not None]
    assert len(points) == len(timed) == len(figs["rows"])  # every figure here has a time (stated or the article's date)
    assert {p.get("data-value") for p in points} >= {"40", "48", "179300000000", "180000000000"}
    counts = [g for g in svg.iter(SVG + "g") if g.get("data-metric") == "落户重点企业数"]
    assert len(counts) == 1 and len(counts[0].findall(SVG + "circle")) == 2  # 40 (2025) and 48 (2026): one series
    assert counts[0].find(SVG + "polyline") is not None
    panels = {g.get("data-unit") for g in svg.iter(SVG + "g") if g.get("class") == "panel"}
    assert panels == {"个", "元"}  # counts and money on their own axes
    assert "style=" not in html[html.index("<svg"):html.index("</svg>")]  # the CSP allows no inline style


def test_targets_are_drawn_apart_from_actuals(client):
    html = client.get("/id/qingdao-vr-industrial-park.html?lang=zh").get_data(as_text=True)
    svg = chart_of(html)
    targets = svg.findall(f".//{SVG}circle[@class='point target']")
    assert len(targets) == 3
    for c in targets:
        assert c.get("fill") == "#fff" and c.get("stroke-dasharray")  # hollow and dashed
        assert c.get("data-modality") == "target"
    assert not svg.findall(f".//{SVG}circle[@class='point actual']")
    assert "300亿元" in html and "不少于30个" in html
    assert html.count('class="figure target"') == 3


def test_render_svg_series_ranges_and_styles():
    rows = [
        {"metric": "output", "unit": "yuan", "time": "2023", "raw_value": "100", "min_value": None, "max_value": None,
         "value": "100", "wording": "100元", "time_basis": "stated", "modality": "actual", "target": False},
        {"metric": "output", "unit": "yuan", "time": "2024-07", "raw_value": "150", "min_value": None, "max_value": "180",
         "value": "150–180", "wording": "150-180元", "time_basis": "stated", "modality": "actual", "target": False},
        {"metric": "output", "unit": "yuan", "time": "2027", "raw_value": "300", "min_value": None, "max_value": None,
         "value": "300", "wording": "300元", "time_basis": "stated", "modality": "target", "target": True},
        {"metric": "output", "unit": "yuan", "time": "", "raw_value": "5", "min_value": None, "max_value": None,
         "value": "5", "wording": "5元", "time_basis": "", "modality": "actual", "target": False},
    ]
    panels = charts.series(rows)
    assert [(s["metric"], s["kind"], len(s["points"])) for s in panels[0]["series"]] == [("output", "actual", 2), ("output", "target", 1)]
    svg = ET.fromstring(charts.render_svg(panels, "en", "<script>x</script>"))
    assert svg.find(SVG + "title").text == "<script>x</script>"  # escaped text, not markup
    assert len(svg.findall(f".//{SVG}circle[@class='point actual']")) == 2  # the timeless figure is not drawn
    assert len(svg.findall(f".//{SVG}line[@class='range actual']")) == 1  # 150-180 as a bar
    dashed = svg.findall(f".//{SVG}g[@data-kind='target']")
    assert len(dashed) == 1 and dashed[0].find(SVG + "circle").get("stroke-dasharray") == "6 4"
    ticks = [t.text for t in svg.iter(SVG + "text") if (t.get("class") or "") == "tick x"]
    assert ticks[0] == "2023" and ticks[-1] == "2028"
    assert charts.render_svg([], "en") == ""


def test_time_positions():
    assert charts.time_position("2024") == 2024.0
    assert charts.time_position("2024-07") == pytest.approx(2024.5)
    assert charts.time_position("2024-03-15/2025-01") == pytest.approx(2024 + 2 / 12 + 14 / 365)
    assert charts.time_position("") is None and charts.time_position("soon") is None


def test_a_thing_without_figures_runs_no_query(client, kg):
    assert not charts.has_figures(kg.store, ID + "ic-design") and charts.has_figures(kg.store, IC_PARK)
    data = client.get("/id/ic-design.json").get_json()
    assert data["figures"] is None
    assert 'id="figures"' not in client.get("/id/ic-design.html").get_data(as_text=True)


def test_the_section_links_to_its_saved_query_page(client):
    html = client.get("/id/qingdao-ic-industrial-park.html").get_data(as_text=True)
    m = re.search(r'class="query-link" href="([^"]+)"', html)
    assert m and "/queries/figures-of?entity=" in m.group(1)
    page = client.get(m.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "about 180 billion yuan" in page.get_data(as_text=True)


@pytest.mark.parametrize("url, headers, media", [
    ("/queries/no-such-query.json", {}, "application/json"),
    ("/queries/figures-off", {"Accept": "application/json"}, "application/json"),
    ("/queries/no-such-query.csv", {}, "text/plain"),
    ("/queries/figures-off", {"Accept": "text/html"}, "text/html"),
])
def test_an_unknown_saved_query_is_a_404_in_the_asked_format(client, url, headers, media):
    r = client.get(url, headers=headers)
    assert r.status_code == 404 and r.mimetype == media
    if media == "application/json":
        body = r.get_json()
        assert body["error"] == "not found" and "no saved query named" in body["message"]
        if "figures-off" in url:
            assert body["suggestions"][0] == "figures-of"
    if media == "text/html":
        assert "figures-of" in r.get_data(as_text=True)
