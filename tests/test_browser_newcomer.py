"""A newcomer's first visit, in headless Debian chromium (selenium; scripts/install-system-deps.sh
installs chromium and chromium-driver) against `chainkg serve` on the repository's graph: search from
the home page, open the IC park, see its figures chart, then write a query in the workbench with the
autocompletion (a class from the ontology, a thing found by its Chinese name, a property), run it,
chart it, share it by URL and find it again among the recent queries. Screenshots go to
test-output/browser/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from browser import completions, start_chromium, wait

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "browser"


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def type_and_complete(driver, ta, text: str, expected: str) -> None:
    """Type text, wait until `expected` is offered, move to it with the arrow keys, take it with Enter."""
    from selenium.webdriver.common.keys import Keys

    ta.send_keys(text)
    offered = wait(lambda: expected in completions(driver) and completions(driver))
    for _ in range(offered.index(expected)):
        ta.send_keys(Keys.ARROW_DOWN)
    ta.send_keys(Keys.ENTER)
    wait(lambda: not completions(driver))


def test_search_open_a_park_see_its_figures_then_query_with_completion(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base = live_server.url
    browser.get(base + "/")
    browser.execute_script("localStorage.clear()")
    box = browser.find_element(By.ID, "site-search-q")
    box.send_keys("集成电路产业园", Keys.ENTER)
    link = wait(lambda: browser.find_elements(By.CSS_SELECTOR, 'a.result-label[href="/id/qingdao-ic-industrial-park"]'))
    shot(browser, "newcomer-01-search")
    link[0].click()
    wait(lambda: urlparse(browser.current_url).path == "/id/qingdao-ic-industrial-park")

    # the Figures section: a table and a chart of the figures with a time
    chart = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#figures svg.figures-chart"))[0]
    assert chart.is_displayed() and chart.size["height"] > 200
    points = browser.find_elements(By.CSS_SELECTOR, "#figures svg circle.point")
    values = {p.get_attribute("data-value") for p in points}
    assert {"40", "48", "179300000000", "180000000000"} <= values
    table = browser.find_element(By.ID, "figures-table").text
    assert "1793亿元" in table and "48 key enterprises" in table
    browser.execute_script("document.getElementById('figures').scrollIntoView()")
    shot(browser, "newcomer-02-figures")
    refused = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not refused  # the chart needs no inline style or script

    # the workbench: a query written with the autocompletion
    browser.get(base + "/?lang=zh")
    ta = browser.find_element(By.ID, "query")
    ta.clear()
    ta.send_keys("SELECT ?park ?label WHERE {\n?park a ")
    type_and_complete(browser, ta, "ck:IndustrialP", "ck:IndustrialPark")
    ta.send_keys(" ; rdfs:label ?label .\nFILTER (?park = ")
    type_and_complete(browser, ta, "id:集成电路产业园", "id:qingdao-ic-industrial-park")  # a thing by its name
    ta.send_keys(")\n}")
    text = ta.get_attribute("value")
    assert "?park a ck:IndustrialPark ;" in text and "FILTER (?park = id:qingdao-ic-industrial-park)" in text
    shot(browser, "newcomer-03-completed")
    ta.send_keys(Keys.CONTROL, Keys.ENTER)
    rows = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"))
    assert len(rows) == 2  # its Chinese and English labels
    assert browser.find_element(By.CSS_SELECTOR, '#results a[href="/id/qingdao-ic-industrial-park"]').text == "青岛市集成电路产业园"

    # the query is in the address bar: the link opens the same query
    shared = parse_qs(urlparse(browser.current_url).query)
    assert shared["query"] == [text] and shared["lang"] == ["zh"]

    # a property from the ontology, an aggregate, and a chart of the result
    ta.clear()
    ta.send_keys("SELECT ?metric (COUNT(?f) AS ?figures) WHERE {\nid:qingdao-ic-industrial-park ")
    type_and_complete(browser, ta, "ck:hasQuan", "ck:hasQuantity")
    ta.send_keys(" ?f .\n?f ck:hasMetric ?metric\n} GROUP BY ?metric")
    ta.send_keys(Keys.CONTROL, Keys.ENTER)
    wait(lambda: browser.find_element(By.ID, "tab-chart").is_displayed())
    n_rows = len(browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"))
    browser.find_element(By.ID, "tab-chart").click()
    bars = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#result-chart rect.bar"))
    assert len(bars) == n_rows >= 2
    assert sum(int(b.get_attribute("data-value")) for b in bars) == len(points)  # every figure counted once
    shot(browser, "newcomer-04-chart")

    # both queries are kept in this browser, newest first, and come back after a reload
    history = browser.execute_script("return JSON.parse(localStorage.getItem('chainkg.workbench.history'))")
    assert [h["query"] for h in history][1] == text and history[0]["rows"] == n_rows
    browser.get(base + "/")
    options = browser.find_elements(By.CSS_SELECTOR, "#history-picker option")
    assert len(options) == 3  # "—" and the two queries
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "history-picker")).select_by_index(2)
    assert browser.find_element(By.ID, "query").get_attribute("value") == text
    assert parse_qs(urlparse(browser.current_url).query)["query"] == [text]
