"""Full-text search (issue 13, item 1): the index of the real graph, the quality of 40+ zh/en
queries with the things they must find, ranking, highlighting (escaped), bounds, the index built once
per dataset version, the pages and JSON twins in process and over real HTTP, and a person searching
from the home page in headless chromium."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from browser import start_chromium
from chainkg.build import textindex
from chainkg.build.pipeline import build
from chainkg.config import Config
from conftest import PREFIXES, make_project

BASE = "https://w3id.org/chainkg/"

# (query, IRIs under BASE of which at least one must be among the first `top` results, top).
# Each expectation was read from the articles' triples: the thing the words name, describe or quote.
QUALITY = [
    # names, as written, in Chinese and English
    ("京东方", ["id/boe"], 1), ("BOE", ["id/boe"], 1), ("海尔", ["id/haier"], 1), ("歌尔", ["id/goertek"], 1),
    ("Goertek", ["id/goertek"], 1), ("奇瑞", ["id/chery"], 1), ("Chery", ["id/chery"], 1),
    ("中国海洋大学", ["id/ocean-university-of-china"], 1), ("Ocean University", ["id/ocean-university-of-china"], 1),
    ("Qingdao Optics Valley", ["id/qingdao-optics-valley-software-park"], 1), ("周林", ["id/zhou-lin"], 1),
    ("Sun Houqiang", ["id/sun-houqiang"], 1), ("深圳", ["id/shenzhen"], 1), ("Shenzhen", ["id/shenzhen"], 1),
    ("PowerChina", ["id/powerchina"], 1), ("先进封装", ["id/advanced-packaging"], 1),
    ("液晶材料", ["id/liquid-crystal-materials"], 1), ("四链融合", ["id/four-chain-integration"], 1),
    ("Wuyuan", ["id/wuyuan-semiconductor"], 1), ("中车四方", ["id/crrc-sifang"], 1),
    # substrings of names and of descriptions (Chinese needs no segmentation)
    ("路线图", ["id/press-conference-2025-01-14-innovative-industrial-system"], 1),
    ("传感器", ["id/sensors"], 3), ("备件中心仓", ["id/wuzhou-tongda-ic-spare-parts-warehouse"], 1),
    ("蓝色生物医药", ["id/qingdao-blue-biomedicine-industrial-park"], 1), ("深海装备", ["id/deep-sea-equipment"], 1),
    ("offshore photovoltaic", ["id/powerchina-offshore-pv-phase-one", "id/powerchina-offshore-pv-project"], 2),
    ("VR headset", ["id/vr-headset-optical-module-project-phase-1"], 1), ("EDA", ["id/domestic-eda-tools"], 1),
    ("新型显示", ["id/new-display-industry"], 3), ("semiconductor equipment", ["id/ic-equipment"], 1),
    ("magnetic storage chip", ["id/magnetic-storage-chips"], 1),
    # British/American spellings, plurals, hyphens, legal forms, word order
    ("Computing Center", ["id/qingdao-ai-computing-centre", "id/qingdao-haizhixin-computing-centre"], 2),
    ("four wheels", ["id/chengyang-four-wheel-drive"], 1), ("polarizers", ["id/polarisers"], 1),
    ("smart sensor", ["id/smart-sensors"], 1), ("deep sea equipment", ["id/deep-sea-equipment"], 1),
    ("Haier Group", ["id/haier"], 1), ("海尔集团", ["id/haier"], 1), ("global R&D center", ["id/goertek-global-rd-hq"], 1),
    ("one core four poles", ["id/one-core-four-poles"], 1), ("Sirui equipment center", ["id/sirui-equipment-centre"], 1),
    # small spelling mistakes
    ("Qingdoa", ["id/qingdao"], 1), ("Goertec", ["id/goertek"], 2), ("photovoltaik", ["id/powerchina-offshore-pv-project",
                                                                                     "id/powerchina-offshore-pv-phase-one"], 3),
    # evidence quotes and figures: the claim, or the thing whose figure it is
    ("全球VR第一园", ["claim/002-vr-park-target-2024"], 2), ("lithography machine", ["claim/001-wuyuan-lithography-2025"], 2),
    ("门到门", ["claim/000-wanda-supplies-boe"], 3), ("172.6亿元", ["claim/003-funds"], 2),
    ("1793亿元", ["id/qingdao-ic-industrial-park"], 1), ("信芯", ["claim/000-hisense-xinxin", "id/xinxin-chip"], 1),
    # the report itself, or the claim quoting it (the figures' variables, "GDP growth per point of the
    # computing power index", rank above both by their labels)
    ("计算力指数", ["id/global-computing-power-index-report-2022-2023", "claim/003-computing-power-report"], 3),
    # articles and ontology terms
    ("machine-style translation", ["source/001_8c6f0302f342d69b"], 1), ("innovation platform", ["ontology#InnovationPlatform"], 1),
]


@pytest.fixture(scope="module")
def search_index(kg, tmp_path_factory) -> textindex.SearchIndex:
    path, meta, built = textindex.ensure_index(kg, tmp_path_factory.mktemp("search") / textindex.INDEX_FILE)
    assert built and meta["version"] == kg.version
    return textindex.SearchIndex(path)


def iris(found: dict) -> list[str]:
    return [h.iri[len(BASE):] for h in found["results"]]


def test_the_quality_set_is_large_and_mixed():
    assert len(QUALITY) >= 40
    assert sum(1 for q, _, _ in QUALITY if re.search(r"[\u4e00-\u9fff]", q)) >= 15  # Chinese queries
    assert sum(1 for q, _, _ in QUALITY if q.isascii()) >= 20  # English queries


@pytest.mark.parametrize("query, expected, top", QUALITY, ids=[q for q, _, _ in QUALITY])
def test_quality(search_index, query, expected, top):
    got = iris(search_index.search(query, limit=10))
    assert set(expected) & set(got[:top]), f"{query!r}: expected one of {expected} in the first {top}, got {got[:5]}"


def test_nonsense_finds_nothing(search_index):
    assert search_index.search("zzzzqqq")["results"] == []
    assert search_index.search("   ")["results"] == []


def test_one_result_per_thing(search_index):
    found = search_index.search("海尔", limit=50)
    assert len(iris(found)) == len(set(iris(found)))
    haier = found["results"][0]
    assert haier.iri == BASE + "id/haier" and haier.hits >= 2  # 海尔 and 海尔集团: one result


def test_label_hits_rank_above_quote_hits_and_exact_above_fuzzy(search_index):
    found = search_index.search("京东方", limit=50)["results"]
    fields = [h.field for h in found]
    assert fields.index("evidence") > max(i for i, f in enumerate(fields) if f in ("label", "altLabel"))
    assert [h.kind for h in found].index("claim") > 0
    found = search_index.search("Computing Center", limit=20)["results"]
    matches = [h.match for h in found]
    assert "fuzzy" in matches and matches.index("fuzzy") > max(i for i, m in enumerate(matches) if m != "fuzzy")


def test_evidence_hits_point_to_the_claim_its_subjects_and_its_article(search_index, kg):
    hit = next(h for h in search_index.search("门到门")["results"] if h.kind == "claim")
    assert hit.iri == BASE + "claim/000-wanda-supplies-boe" and hit.field == "evidence"
    subjects = {s["iri"] for s in hit.info["links"]["subjects"]}
    stated = {r["s"] for r in kg.select(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{hit.iri}> {{ ?s ?p ?o }} }}")}
    assert subjects and subjects <= stated
    assert hit.info["links"]["source"]["iri"] == BASE + "source/000_dbc5086fd4006f11"


def test_figures_point_to_their_thing_and_claim(search_index):
    hit = search_index.search("1793亿元")["results"][0]
    assert hit.field == "figure" and hit.claim.startswith(BASE + "claim/")


def test_results_show_type_and_place(search_index):
    hit = search_index.search("Qingdao Artificial Intelligence Computing Centre")["results"][0]
    assert hit.info["types"]["en"] == "innovation platform"
    assert hit.info["places"]["en"] == "Qingdao Artificial Intelligence Industrial Park"


@pytest.mark.parametrize("text, query, marked", [
    ("介绍青岛构建创新型产业体系工作情况，亮出升级产业体系的“路线图”。", "路线图", ["路线图"]),
    ('Qingdao "Heart of the Sea" Computing Centre', "computing center", ["Computing", "Centre"]),
    ('Chengyang "four-wheel drive" industrial pattern', "four wheels", ["four", "wheel"]),
    ("port AI vertical-domain model", "AI", ["AI"]),  # a short Latin word is not marked inside "domain"
])
def test_highlight_marks_what_matched(text, query, marked):
    spans = textindex.highlight(text, query)
    assert [text[s:e] for s, e in spans] == marked


def test_snippet_cuts_long_texts_around_the_match():
    text = "前" * 300 + "路线图" + "后" * 300
    segments = textindex.snippet(text, textindex.highlight(text, "路线图"))
    assert segments[0] == ("…", False) and segments[-1] == ("…", False)
    assert ("路线图", True) in segments and sum(len(t) for t, _ in segments) <= textindex.SNIPPET + 2


def test_bounds(search_index):
    with pytest.raises(textindex.SearchError):
        search_index.search("x" * (textindex.MAX_QUERY + 1))
    with pytest.raises(textindex.SearchError):
        search_index.search("qingdao", kinds=("everything",))
    assert len(search_index.search("青岛", limit=1000)["results"]) == textindex.MAX_LIMIT


def test_no_query_scans_a_table(search_index, monkeypatch):
    """Every statement a search runs reads through an index (SQLite's plan says SEARCH, or a
    full-text MATCH), never a SCAN of docs, things or short."""
    statements: list[str] = []
    original = textindex.SearchIndex._connect

    def traced(self):
        con = original(self)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(textindex.SearchIndex, "_connect", traced)
    for query, _, _ in QUALITY[:: 3] + [("Qingdoa", [], 0), ("芯", [], 0), ("AI", [], 0), ("Haier Group", [], 0)]:
        search_index.search(query)
    assert statements
    con = sqlite3.connect(search_index.path)
    for sql in {s for s in statements if s.startswith("SELECT")}:  # as run, with the values (not SQLite's own)
        plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql))
        assert not re.search(r"SCAN (d|t|docs|things|short)\b", plan), f"{sql}\n{plan}"


# -- the index file: once per version, atomically ---------------------------------------------------------

def test_the_index_is_built_once_per_version_and_reused(config, kg):
    from chainkg.web.app import create_app

    path = config.cache_dir / kg.version / textindex.INDEX_FILE
    create_app(config, kg)
    assert path.is_file()
    before = path.stat()
    app = create_app(config, kg)  # a second start
    assert app.extensions["chainkg.search.built"] is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind


def test_a_stale_or_broken_index_is_replaced(kg, tmp_path):
    path = tmp_path / textindex.INDEX_FILE
    path.write_bytes(b"not a database")
    _, meta, built = textindex.ensure_index(kg, path)
    assert built and meta["version"] == kg.version
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'version'", (json.dumps("0000000000000000"),))
    con.commit()
    con.close()
    assert textindex.ensure_index(kg, path)[2] is True  # another version's index is rebuilt
    assert textindex.ensure_index(kg, path)[2] is False


# -- the pages and the JSON twins --------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_TRIG = PREFIXES + f"""
claim:900-park {{
    id:test-park a ck:IndustrialPark ;
        rdfs:label "测试产业园"@zh , "Test Park {HOSTILE}"@en ; skos:prefLabel "测试产业园"@zh ;
        ck:locatedIn id:laoshan-district .
}}
claim:900-park a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试产业园位于崂山区"@zh .
"""


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    from chainkg.web.app import create_app

    root = make_project(tmp_path_factory.mktemp("hostile"), trig=HOSTILE_TRIG)
    config = Config(root=root, build_dir=root / "build")
    app = create_app(config, build(config).dataset)
    app.testing = True
    return app.test_client()


def test_highlighted_text_is_escaped(hostile_client):
    page = hostile_client.get("/search?q=Test+Park", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<mark>Test</mark> <mark>Park</mark>" in html.replace("<mark>Test Park</mark>", "<mark>Test</mark> <mark>Park</mark>")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    data = hostile_client.get("/search.json?q=onerror").get_json()
    hit = data["results"][0]
    assert HOSTILE in hit["snippet"] and "<img" not in hit["snippet_html"] and "<mark>onerror</mark>" in hit["snippet_html"]
    s, e = hit["highlights"][0]
    assert hit["snippet"][s:e] == "onerror"
    attack = hostile_client.get("/search", query_string={"q": HOSTILE}, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<img" not in attack  # the query itself, echoed in the box and the summary


def test_json_by_suffix_by_accept_and_on_the_api(hostile_client):
    twin = hostile_client.get("/search.json?q=测试")
    negotiated = hostile_client.get("/search?q=测试", headers={"Accept": "application/json"})
    api = hostile_client.get("/api/search?q=测试")
    assert twin.mimetype == negotiated.mimetype == api.mimetype == "application/json"
    assert twin.get_json()["results"] == negotiated.get_json()["results"] == api.get_json()["results"]
    assert twin.get_json()["results"][0]["url"] == "/id/test-park"
    assert api.headers["Access-Control-Allow-Origin"] == "*"
    html = hostile_client.get("/search?q=测试", headers={"Accept": "text/html"})
    assert html.mimetype == "text/html" and "Content-Security-Policy" in html.headers
    again = hostile_client.get("/search.json?q=测试", headers={"If-None-Match": twin.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("args", [{"q": "x" * 101}, {"q": "a", "limit": "0"}, {"q": "a", "limit": "51"},
                                  {"q": "a", "limit": "٣"}, {"q": "a", "kind": "nothing"}])
def test_bad_requests_are_400_in_the_format_asked_for(hostile_client, args):
    as_json = hostile_client.get("/api/search", query_string=args)
    assert as_json.status_code == 400 and as_json.get_json()["error"] == "bad request"
    as_html = hostile_client.get("/search", query_string=args, headers={"Accept": "text/html"})
    assert as_html.status_code == 400 and as_html.mimetype == "text/html"


def test_kind_filter(hostile_client):
    claims = hostile_client.get("/api/search?q=测试产业园&kind=claim").get_json()["results"]
    assert claims and {r["kind"] for r in claims} == {"claim"}
    assert claims[0]["subjects"][0]["url"] == "/id/test-park" and claims[0]["source"]["url"] == "/source/900_test"


@pytest.mark.parametrize("path", ["/", "/id/test-park", "/ontology", "/dumps/", "/search?q=x"])
def test_every_page_has_the_search_box(hostile_client, path):
    html = hostile_client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert re.search(r'<form class="site-search" role="search" action="/search" method="get">', html)


# -- over real HTTP -----------------------------------------------------------------------------------------

def get(url: str, accept: str = "application/json") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_search_over_http(live_server):
    status, headers, body = get(live_server.url + "/api/search?" + urllib.parse.urlencode({"q": "Computing Center"}))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    results = json.loads(body)["results"]
    assert {r["url"] for r in results[:2]} == {"/id/qingdao-ai-computing-centre", "/id/qingdao-haizhixin-computing-centre"}
    status, headers, body = get(live_server.url + "/search?q=" + urllib.parse.quote("路线图"), "text/html")
    assert status == 200 and "Content-Security-Policy" in headers
    assert "<mark>路线图</mark>" in body.decode()
    status, _, body = get(live_server.url + "/api/search?q=" + "x" * 500)
    assert status == 400 and b"limit is 100" in body


# -- a person, in headless chromium --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


def test_search_from_the_home_page_and_open_an_entity(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server.url + "/")
    box = browser.find_element(By.ID, "site-search-q")
    box.send_keys("Computing Center", Keys.ENTER)
    WebDriverWait(browser, 15).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ol.search-results li.result")))
    assert "/search?q=Computing+Center" in browser.current_url
    first = browser.find_elements(By.CSS_SELECTOR, "ol.search-results li.result")[0]
    assert [m.text for m in first.find_elements(By.TAG_NAME, "mark")] == ["Computing", "Centre"]
    assert first.find_element(By.CSS_SELECTOR, ".result-type").text == "innovation platform"
    out = Path(__file__).resolve().parents[1] / "test-output" / "browser"
    out.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(out / "search-results.png"))
    link = first.find_element(By.CSS_SELECTOR, "a.result-label")
    label = link.text
    link.click()
    WebDriverWait(browser, 15).until(ec.url_contains("/id/qingdao-"))
    assert browser.find_element(By.TAG_NAME, "h1").text == label
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors, errors  # no CSP violation, no script error on either page
