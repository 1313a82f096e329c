"""Workbench comfort (issue #13 item 5) on the repository's graph: what the autocompletion is fed
(the ontology's terms with labels in the reader's language, the search API for things), the query
read from the URL, the GROUP_CONCAT hints; and in headless chromium against `chainkg serve`: prefix
completion on a PREFIX line, the keys, labels in the reader's language, the empty-GROUP_CONCAT hint."""

from __future__ import annotations

import html as html_lib
import json
import re
import time
from urllib.parse import quote

import pytest

from browser import completions, start_chromium, wait
from chainkg.sparql.messages import GROUP_CONCAT_HINT, group_concat_without_str
from chainkg.web.app import create_app

CK = "https://w3id.org/chainkg/ontology#"


@pytest.fixture(scope="module")
def client(config, kg):
    return create_app(config, kg).test_client()


def data_block(page: str, name: str):
    m = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', page, re.S)
    assert m, name
    return json.loads(m.group(1))


@pytest.mark.parametrize("lang, park_label, quantity_label", [("zh", "产业园区", "数量"), ("en", "industrial park", "has quantity")])
def test_the_editor_gets_the_ontology_terms_with_labels_in_the_readers_language(client, lang, park_label, quantity_label):
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    vocab = {t["curie"]: t for t in data_block(page, "vocabulary-data")}
    assert vocab["ck:IndustrialPark"] == {"curie": "ck:IndustrialPark", "iri": CK + "IndustrialPark", "kind": "class", "label": park_label}
    assert vocab["ck:hasQuantity"]["kind"] == "property" and vocab["ck:hasQuantity"]["label"] == quantity_label
    assert vocab["rdfs:label"]["kind"] == "property" and vocab["prov:wasDerivedFrom"]["kind"] == "property"
    assert all(not t["curie"].startswith("http") for t in vocab.values())  # every term has a prefix to complete
    assert "ck" in data_block(page, "prefixes-data")
    for ident in ("completions", "history-picker", "tab-chart", "chart-view"):
        assert f'id="{ident}"' in page


def test_things_are_found_by_name_for_the_completion(client):
    r = client.get("/api/search?kind=entity&limit=10&q=" + quote("集成电路产业园"), headers={"Accept": "application/json"})
    assert r.status_code == 200
    hits = r.get_json()["results"]
    assert hits[0]["iri"] == "https://w3id.org/chainkg/id/qingdao-ic-industrial-park" and hits[0]["label"]
    assert all(h["kind"] == "entity" for h in hits)


def test_a_shared_link_opens_the_same_query(client):
    query = "SELECT ?p WHERE { ?p a ck:IndustrialPark }\n# shared"
    page = client.get("/?lang=zh&saved=enterprises-by-park&query=" + quote(query)).get_data(as_text=True)
    textarea = re.search(r'<textarea id="query"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert html_lib.unescape(textarea) == query
    assert 'data-saved="enterprises-by-park"' in page and '<html lang="zh">' in page


@pytest.mark.parametrize("query", ['SELECT (GROUP_CONCAT(?o, ", ") AS ?x) WHERE { ?s ?p ?o }',
                                   'SELECT (GROUP_CONCAT(?o SEPARATOR=", ") AS ?x) WHERE { ?s ?p ?o }'])
def test_a_group_concat_syntax_error_gets_the_hint(client, query):
    r = client.post("/sparql", data={"query": query})
    assert r.status_code == 400
    assert GROUP_CONCAT_HINT in r.get_data(as_text=True)
    r = client.post("/sparql", data={"query": query}, headers={"Accept": "application/json"})
    assert GROUP_CONCAT_HINT in r.get_json()["detail"]


def test_other_syntax_errors_do_not_get_the_group_concat_hint(client):
    r = client.post("/sparql", data={"query": 'SELECT (GROUP_CONCAT(STR(?o); SEPARATOR=", ") AS ?x) WHERE { ?s ?p ?o '})
    assert r.status_code == 400 and "GROUP_CONCAT joins" not in r.get_data(as_text=True)


def test_group_concat_without_str():
    assert group_concat_without_str('SELECT (GROUP_CONCAT(?o; SEPARATOR=",") AS ?x) {}')
    assert group_concat_without_str("SELECT (group_concat(DISTINCT ?o) AS ?x) {}")
    assert not group_concat_without_str("SELECT (GROUP_CONCAT(STR(?o)) AS ?x) {}")
    assert not group_concat_without_str('SELECT ("GROUP_CONCAT(?o)" AS ?x) {}  # GROUP_CONCAT(?o)')


# -- in the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


def test_prefix_completion_and_its_keys(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server.url + "/")
    ta = browser.find_element(By.ID, "query")
    ta.clear()
    ta.send_keys("PREFIX ")
    ta.send_keys(Keys.CONTROL, " ")  # Ctrl+Space: every known namespace
    assert wait(lambda: len(completions(browser)) >= 5)
    ta.send_keys("pro")
    prov = ["prov: <http://www.w3.org/ns/prov#>"]
    # the list is recomputed a moment after each key: wait until it has settled on prov, or Tab can
    # arrive while it is closed between two renderings (and insert spaces)
    assert wait(lambda: completions(browser) == prov and (time.sleep(0.3) or completions(browser) == prov))
    ta.send_keys(Keys.TAB)  # Tab takes it (and inserts no spaces)
    assert ta.get_attribute("value") == "PREFIX prov: <http://www.w3.org/ns/prov#>"
    ta.send_keys("\nSELECT * { ?s ck:tenan")
    wait(lambda: "ck:tenantOf" in completions(browser))
    ta.send_keys(Keys.ESCAPE)
    wait(lambda: not completions(browser))
    assert ta.get_attribute("value").endswith("ck:tenan")  # Escape changed nothing
    ta.send_keys("tOf ?park }")
    assert not completions(browser)


def test_a_blur_does_not_close_the_list_opened_after_the_focus_came_back(browser, live_server):
    """The list closes a moment after the editor loses the focus; that moment's timer, running late,
    closed the list the next keys opened (selenium's clear() blurs the editor: the first completion
    of a test was lost when the keys came faster than the timer)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server.url + "/")
    ta = browser.find_element(By.ID, "query")
    browser.execute_script("const ta = arguments[0]; ta.focus(); ta.blur(); ta.focus();"
                           "ta.value = 'PREFIX '; ta.selectionStart = ta.selectionEnd = ta.value.length;", ta)
    ta.send_keys(Keys.CONTROL, " ")
    assert wait(lambda: len(completions(browser)) >= 5)
    time.sleep(0.5)  # past the blur's timer
    assert len(completions(browser)) >= 5
    browser.execute_script("arguments[0].blur()", ta)  # and the focus gone for good closes it
    assert wait(lambda: not completions(browser))


def test_labels_in_the_readers_language_and_the_group_concat_hint(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server.url + "/?lang=zh")
    ta = browser.find_element(By.ID, "query")
    ta.clear()
    ta.send_keys("SELECT ?park WHERE { ?park a ck:IndustrialPark } ORDER BY ?park LIMIT 5", Keys.ESCAPE)
    ta.send_keys(Keys.CONTROL, Keys.ENTER)
    links = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results td a"))
    texts = wait(lambda: [a.text for a in links] if all(re.search(r"[\u4e00-\u9fff]", a.text) for a in links) else None)
    assert len(texts) == 5  # Chinese labels, looked up after the rows arrived
    assert browser.find_element(By.ID, "result-hint").is_displayed() is False

    ta.clear()
    query = ('SELECT ?park (GROUP_CONCAT(?type; SEPARATOR=", ") AS ?types) WHERE { ?park a ck:IndustrialPark, ?type }'
             " GROUP BY ?park LIMIT 3")
    ta.send_keys(query, Keys.ESCAPE)
    ta.send_keys(Keys.CONTROL, Keys.ENTER)
    hint = wait(lambda: [h for h in browser.find_elements(By.ID, "result-hint") if h.is_displayed()])
    assert "?types" in hint[0].text and "STR(?x)" in hint[0].text
    ta.clear()
    ta.send_keys(query.replace("GROUP_CONCAT(?type;", "GROUP_CONCAT(STR(?type);"), Keys.ESCAPE)
    ta.send_keys(Keys.CONTROL, Keys.ENTER)
    # read in one script: the previous run's table is replaced when this one's answer arrives (a
    # stale element when found just before)
    wait(lambda: "ontology#" in browser.execute_script("const r = document.getElementById('results');"
                                                       "return r ? r.innerText : '';"))
    assert not browser.find_element(By.ID, "result-hint").is_displayed()
