"""Headless Debian chromium driven by selenium, for the browser tests (one place for the setup)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def start_chromium(downloads: Path | None = None, init_script: str | None = None):
    """A headless chromium (English UI, 1400x1000, console log kept). Missing chromium skips the
    test outside CI and fails it in CI, where `make test` installs it."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        message = "chromium and chromium-driver are missing: run scripts/install-system-deps.sh test"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                               "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    if downloads is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    if init_script:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": init_script})
    driver.set_page_load_timeout(30)
    return driver


def wait(predicate, timeout: float = 15.0):
    """The first truthy value of predicate(), polled every 0.1 s; AssertionError after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def completions(driver) -> list[str]:
    """The workbench's completions on offer (empty while the list is hidden), read in one script:
    the list is re-rendered as the user types, so reading its items one WebDriver call at a time
    raced with it (a stale element in a CI run)."""
    return driver.execute_script(
        "const box = document.getElementById('completions');"
        "return box.hidden ? [] : Array.from(box.querySelectorAll('li'), li => li.getAttribute('data-insert'));")
