"""report.html in a real browser: headless Chromium through selenium and chromedriver.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them when
missing); the tests skip, saying so, where they are absent.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from auditor.report import SECTIONS, build_report
from tests.auditor.report_fixtures import parse_report, scan_folder, write_retrieval

CHROMIUM = Path(os.environ.get("HASHAUDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("HASHAUDIT_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# a scan, a headless Chromium and its driver per module: end to end
pytestmark = pytest.mark.e2e
IMAGES_STATE = (
    "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
)
CHARTS_STATE = (
    "return Array.from(document.querySelectorAll('svg.chart')).map(s => "
    "[s.getBoundingClientRect().width, s.getBoundingClientRect().height, "
    "s.querySelectorAll('path.series').length])"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(
            f"headless Chromium not available ({', '.join(missing)} missing): install the Debian "
            "packages chromium and chromium-driver (.ci/run does when it can)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) missing")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hashaudit-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full report: truth known, thumbnails and snippets, retrieval results."""
    _, out = scan_folder(tmp_path_factory.mktemp("browser"))
    write_retrieval(out)
    return build_report(out)


def load(driver: Any, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    state = driver.execute_script("return document.readyState")
    assert state == "complete"


def severe_messages(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_report_renders_without_errors(browser: Any, report_path: Path) -> None:
    load(browser, report_path)
    assert browser.title.startswith("hashaudit report")
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('section[id]')).map(s => s.id)"
    )
    assert ids == [key for key, _ in SECTIONS]
    assert severe_messages(browser) == []
    images = browser.execute_script(IMAGES_STATE)
    assert len(images) == len(parse_report(report_path).images) > 10
    broken = [image for image in images if not (image[0] and image[1] > 0)]
    assert broken == [], broken
    assert all(src.startswith("data:image/") for _, _, src in images)
    # The figures are inline SVG charts, laid out at their size, each drawing its series.
    charts = browser.execute_script(CHARTS_STATE)
    parsed = parse_report(report_path)
    assert len(charts) == len(parsed.charts) == len(parsed.figures) >= 6  # 4 histograms + 2
    assert all(width >= 300 and height >= 200 and series >= 2 for width, height, series in charts)


def test_screenshot_is_not_blank(browser: Any, report_path: Path) -> None:
    load(browser, report_path)
    screenshot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    pixels = np.asarray(screenshot, dtype=np.float64)
    assert screenshot.width > 500 and screenshot.height > 500
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    assert pixels.std() > 10


def test_the_checks_catch_a_broken_page(browser: Any, tmp_path: Path) -> None:
    """Control: a page with an undecodable image and a script error fails both checks."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '</head><body><img src="data:image/png;base64,iVBORw0KGgoAAAA=">'
        "<script>undefinedFunction()</script></body></html>"
    )
    load(browser, page)
    assert severe_messages(browser), "the script error was not reported"
    images = browser.execute_script(IMAGES_STATE)
    assert [image[1] for image in images] == [0]
