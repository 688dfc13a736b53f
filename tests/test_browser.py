"""What a reader sees, in headless Chromium at a phone (390 px) and a laptop (1280 px) width, in both languages.

The pages come from the session's real render (`rendered`: the national reports, Stockholms län, one
notebook profile and the site around them). Each page must fit the viewport (tables scroll inside their
own box), show no code names (snake_case, True/False) in its visible text, and the landing page's search
must find Norrköping. Screenshots are kept in tests/artefacts/screenshots/ (git-ignored) for review.
Chromium is the system's (/usr/bin/chromium, apt); playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from analysis import config

pytestmark = [pytest.mark.notebooks, pytest.mark.browser]

SCREENSHOTS = config.PROJECT_ROOT / "tests" / "artefacts" / "screenshots"
PAGES = {
    "landing": "{lang}/index.html",
    "national": "{lang}/national/03_national_it_picture.html",
    "comparison": "{lang}/national/04_cooperation_comparison.html",
    "region": "{lang}/region/01-stockholms-lan.html",
    "profile": "{lang}/profile/0581-norrkoping.html",
    "methods": "{lang}/methods.html",
    "downloads": "{lang}/downloads.html",
}
CODE_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")
BOOLEAN = re.compile(r"\b(True|False)\b")


def _chromium() -> str:
    for path in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if path and os.path.exists(path):
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("headless chromium is required in CI (apt-get install chromium; .ci/run installs it)")
    pytest.skip("headless chromium not installed (apt-get install chromium); required in CI")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_fits_the_screen_and_reads_plainly(rendered, browser, page, width, lang):
    out, _ = rendered
    path = out / PAGES[page].format(lang=lang)
    assert path.is_file(), path
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        tab.goto(path.as_uri())
        scroll_width, inner_width = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{page}-{lang}-{width}.png"), full_page=True)
        text = tab.evaluate("document.body.innerText")
        assert tab.evaluate("document.documentElement.lang") == lang
    finally:
        tab.close()
    assert scroll_width <= inner_width, f"{path.name} is {scroll_width} px wide at {inner_width} px"
    assert not CODE_NAME.findall(text), sorted(set(CODE_NAME.findall(text)))[:10]
    assert not BOOLEAN.findall(text)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_search_finds_norrkoping_and_sorting_works(rendered, browser, lang):
    out, _ = rendered
    tab = browser.new_page(viewport={"width": 390, "height": 900})
    try:
        tab.goto((out / lang / "index.html").as_uri())
        rows = tab.locator("#kommuner tbody tr")
        assert rows.count() == 290
        tab.fill("#search", "Norrk")
        visible = tab.locator("#kommuner tbody tr:visible")
        names = visible.locator("td:first-child").all_inner_texts()
        assert "Norrköpings kommun" in names and len(names) < 10, names
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"search-{lang}-390.png"))
        href = visible.filter(has_text="Norrköpings kommun").locator("a").get_attribute("href")
        assert (out / lang / href).resolve().is_file(), "the row links to the profile"
        tab.fill("#search", "")
        tab.locator("#kommuner thead th").nth(3).locator("button").click()
        tab.locator("#kommuner thead th").nth(3).locator("button").click()
        first = tab.locator("#kommuner tbody tr").first.locator("td").first.inner_text()
        assert first == "Stockholms stad", "sorted by population, largest first"
    finally:
        tab.close()
