"""The workbench as a person uses it, in headless Debian chromium driven by selenium (the
chromium and chromium-driver packages, installed by scripts/install-system-deps.sh; nothing is
downloaded). Screenshots of every page go to test-output/browser/."""

from __future__ import annotations

from pathlib import Path

import pytest

import test_api_project as project
from browser import start_chromium, wait
from test_api_project import ID

# the web project's fixtures (built once per test process; see test_api_project.py)
web_config, web_server = project.web_config, project.web_server

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    driver = start_chromium(downloads=downloads)
    driver.downloads = downloads
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 4000)")
    driver.set_window_size(1400, max(1000, height))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def test_run_a_saved_query_from_the_picker_and_follow_a_link(browser, web_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(web_server + "/")
    assert "enhanced" in browser.find_element(By.ID, "editor").get_attribute("class")  # highlighting is on
    assert browser.find_elements(By.CSS_SELECTOR, "#highlight .tok-kw")
    shot(browser, "01-workbench")
    Select(browser.find_element(By.ID, "example-picker")).select_by_value("enterprises-by-park")
    assert "ck:tenantOf" in browser.find_element(By.ID, "query").get_attribute("value")
    browser.find_element(By.ID, "param-park").send_keys(ID + "t-park")
    browser.find_element(By.ID, "run").click()
    rows = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"))
    assert len(rows) == 13
    link = browser.find_element(By.CSS_SELECTOR, '#results a[href="/id/t-leader"]')
    assert link.text == "Test Leader"  # the label, not the IRI
    browser.find_element(By.ID, "tab-raw").click()
    assert '"bindings"' in browser.find_element(By.ID, "raw-view").text
    browser.find_element(By.ID, "tab-table").click()
    shot(browser, "02-workbench-results")

    browser.find_element(By.ID, "download-csv").click()
    csv_file = wait(lambda: [p for p in browser.downloads.glob("*.csv") if p.stat().st_size > 0])
    text = csv_file[0].read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("park,parkLabel") and len(text.splitlines()) == 14

    link = browser.find_element(By.CSS_SELECTOR, '#results a[href="/id/t-leader"]')
    link.click()
    wait(lambda: browser.current_url.endswith("/id/t-leader"))
    assert "Test Leader" in browser.page_source or "测试链主" in browser.page_source
    shot(browser, "03-entity-page")


def test_an_edited_query_runs_on_the_sparql_endpoint(browser, web_server):
    from selenium.webdriver.common.by import By

    query = "SELECT ?park WHERE { ?park a ck:IndustrialPark }"  # no PREFIX: the workbench adds it
    browser.get(web_server + "/?query=" + query.replace(" ", "%20").replace("?", "%3F"))
    assert browser.find_element(By.ID, "query").get_attribute("value") == query
    browser.find_element(By.ID, "run").click()
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, '#results a[href="/id/t-park"]'))
    # the label is looked up after the rows arrive
    wait(lambda: browser.find_element(By.CSS_SELECTOR, '#results a[href="/id/t-park"]').text == "Test Park")


def test_a_query_page_and_its_form(browser, web_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(web_server + "/queries/suppliers-of")
    assert browser.find_element(By.ID, "query-title").text == "Suppliers and customers of an enterprise"
    assert browser.find_elements(By.CSS_SELECTOR, "pre.sparql .tok-kw")
    shot(browser, "04-query-page")
    browser.find_element(By.ID, "p-enterprise").send_keys(ID + "t-leader")
    Select(browser.find_element(By.ID, "p-direction")).select_by_value("suppliers")
    Select(browser.find_element(By.ID, "p-lang")).select_by_value("zh")
    browser.find_element(By.ID, "run-query").click()
    wait(lambda: "direction=suppliers" in browser.current_url)
    partners = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "#results td a")}
    assert {"测试材料公司", "测试设计公司", "测试链主"} <= partners
    shot(browser, "05-query-page-submitted")
    browser.find_element(By.ID, "open-in-editor").click()
    wait(lambda: browser.current_url.startswith(web_server + "/?"))
    assert "ck:supplies" in browser.find_element(By.ID, "query").get_attribute("value")


def test_the_chain_map(browser, web_server):
    from selenium.webdriver.common.by import By

    browser.get(web_server + "/chain-map?chain=t-chain")
    svg = browser.find_element(By.CSS_SELECTOR, "#chain-map svg")
    assert svg.size["width"] > 300
    links = browser.execute_script(
        "return [...document.querySelectorAll('#chain-map svg a')].map(a => a.getAttribute('xlink:href') || a.getAttribute('href'))")
    assert {"/id/t-leader", "/id/t-fab", "/id/t-park"} <= set(links)
    shot(browser, "06-chain-map")
