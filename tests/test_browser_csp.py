"""The Content-Security-Policy is satisfied by the real pages, in headless Debian chromium driven by
selenium (scripts/install-system-deps.sh installs chromium and chromium-driver; nothing is
downloaded). Two witnesses per page: the browser console (chromium logs "Refused to ... because
it violates the following Content Security Policy directive") and `securitypolicyviolation`
events, recorded by a script the DevTools protocol adds to every document before its own.
A control test injects an inline script and checks that both witnesses see it."""

from __future__ import annotations

import shutil

import pytest

import test_api_project as project
from browser import start_chromium, wait
from test_api_project import ID

web_config, web_server = project.web_config, project.web_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium(init_script=RECORDER)
    yield driver
    driver.quit()


def violations(driver) -> list[str]:
    """CSP messages of the console since the last call, and the violation events of this document."""
    console = [e["message"] for e in driver.get_log("browser")
               if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    events = driver.execute_script("return window.__csp || []")
    return console + [f"event: {e}" for e in events]


def visit(driver, url: str) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait(lambda: driver.execute_script("return document.readyState") == "complete")


def test_the_control_an_inline_script_is_refused_and_seen(browser, web_server):
    visit(browser, web_server + "/id/t-park")
    browser.execute_script("var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                           "document.body.appendChild(s);")
    found = wait(lambda: violations(browser))
    assert any("inline script" in v and "Content Security Policy" in v for v in found), found  # the console
    assert any(v.startswith("event: script-src") for v in found), found  # the event
    assert browser.execute_script("return window.__ran") is None  # the policy held
    browser.execute_script("document.body.insertAdjacentHTML('beforeend', '<span style=\"color: red\">x</span>')")
    found = wait(lambda: [v for v in violations(browser) if "style" in v])
    assert any("Content Security Policy" in v for v in found), found  # as a style attribute in a page would be
    assert any(v.startswith("event: style-src") for v in found), found


def test_workbench_runs_a_query_under_the_policy(browser, web_server):
    from selenium.webdriver.common.by import By

    visit(browser, web_server + "/")
    assert "enhanced" in browser.find_element(By.ID, "editor").get_attribute("class")  # its script ran
    query = "SELECT ?park WHERE { ?park a ck:IndustrialPark }"
    visit(browser, web_server + "/?query=" + query.replace(" ", "%20").replace("?", "%3F"))
    browser.find_element(By.ID, "run").click()
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, '#results a[href="/id/t-park"]'))
    wait(lambda: browser.find_element(By.CSS_SELECTOR, '#results a[href="/id/t-park"]').text == "Test Park")
    browser.find_element(By.ID, "tab-raw").click()
    assert '"bindings"' in browser.find_element(By.ID, "raw-view").text
    assert violations(browser) == []


def test_saved_query_picker_fills_the_form_under_the_policy(browser, web_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    visit(browser, web_server + "/")
    Select(browser.find_element(By.ID, "example-picker")).select_by_value("enterprises-by-park")
    browser.find_element(By.ID, "param-park").send_keys(ID + "t-park")
    browser.find_element(By.ID, "run").click()
    assert len(wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"))) == 13
    assert violations(browser) == []


@pytest.mark.parametrize("path", ["/id/t-park", "/id/t-leader?lang=zh", "/claim/900-park", "/ontology", "/dumps/",
                                  "/.well-known/void.html", "/id/no-such-thing", "/queries"])
def test_linked_data_pages_satisfy_the_policy(browser, web_server, path):
    visit(browser, web_server + path)
    assert browser.execute_script("return document.styleSheets.length") >= 1  # style.css applied
    assert violations(browser) == []


def test_a_query_page_and_its_form_satisfy_the_policy(browser, web_server):
    from selenium.webdriver.common.by import By

    visit(browser, web_server + "/queries/suppliers-of")
    assert browser.find_elements(By.CSS_SELECTOR, "pre.sparql .tok-kw")  # workbench.js highlighted it
    browser.find_element(By.ID, "p-enterprise").send_keys(ID + "t-leader")
    browser.find_element(By.ID, "run-query").click()
    wait(lambda: "enterprise=" in browser.current_url)
    wait(lambda: browser.execute_script("return document.readyState") == "complete")
    assert browser.find_elements(By.CSS_SELECTOR, "#results td a")
    assert violations(browser) == []


def test_the_chain_map_satisfies_the_policy(browser, web_server):
    from selenium.webdriver.common.by import By

    visit(browser, web_server + "/chain-map?chain=t-chain")
    assert browser.find_element(By.CSS_SELECTOR, "#chain-map svg").size["width"] > 300
    assert violations(browser) == []
    swatches = browser.find_elements(By.CSS_SELECTOR, ".legend .swatch-svg rect")
    assert swatches and swatches[0].get_attribute("fill").startswith("#")  # the park colours, without a style attribute
