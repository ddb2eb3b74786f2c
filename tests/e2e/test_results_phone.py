"""The results pages fit a 375 px phone, and axe finds nothing down to its moderate
findings (a back link outside every landmark, scroll regions sharing one label) on the
results pages and on every kind of page with a back link."""

import os
import struct

from axe_playwright_python.sync_playwright import Axe

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

SCREENSHOTS = os.environ.get("HOLDFAST_SCREENSHOTS")  # a folder: save each page to look at
PHONE = {"width": 375, "height": 740}
REPORTED = {"moderate", "serious", "critical"}


def png_width(image: bytes) -> int:
    return struct.unpack(">I", image[16:20])[0]  # the IHDR chunk's width


def results_paths(visitor: Visitor) -> list[str]:
    """A survey's results pages, found the way a user finds them."""
    page = visitor.goto("/analysis/")
    comparison = page.locator("a:has-text('Working together in Brackenford')").get_attribute("href")
    page = visitor.goto(comparison)
    construct = page.locator("#constructs tbody a").first.get_attribute("href")
    trust = page.locator("a:has-text('See the trust network')").get_attribute("href")
    page = visitor.goto(construct)
    sector = page.locator("#sectors tbody a").first.get_attribute("href")
    return ["/analysis/", "/analysis/how-to-read", comparison, construct, sector, trust]


def test_every_results_page_fits_a_phone(browser, live_server):
    phone = Visitor(browser.new_context(viewport=PHONE).new_page(), live_server)
    phone.sign_in("evaluator@example.org", DEMO_PASSWORD)
    for path in results_paths(phone):
        page = phone.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        screenshot = page.screenshot(full_page=True)
        assert png_width(screenshot) <= PHONE["width"], path
        if SCREENSHOTS:
            name = path.strip("/").replace("/", "-").split("?")[0] or "analysis"
            with open(os.path.join(SCREENSHOTS, f"phone-{name}.png"), "wb") as file:
                file.write(screenshot)
    # The trust heatmap scrolls inside its own region, named for its wave.
    regions = page.locator(".holdfast-scroll[role=region]")
    assert regions.count() >= 2
    assert regions.first.get_attribute("aria-label").startswith("Trust between sectors in ")
    assert phone.console_errors == []


def moderate_findings(page) -> list[str]:
    results = Axe().run(page)
    found = [v for v in results.response["violations"] if v["impact"] in REPORTED]
    return [f"{page.url}: {v['id']} ({v['impact']}): {v['help']}" for v in found]


def test_axe_finds_nothing_moderate_on_results_and_back_link_pages(visitor):
    visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    paths = results_paths(visitor)
    page = visitor.goto("/surveys")
    survey = page.locator("main a[href^='/surveys/']:has-text('Brackenford')").first.get_attribute("href")
    page = visitor.goto(survey)
    wave = page.locator("main a[href^='/waves/']").first.get_attribute("href")
    page = visitor.goto("/places")
    place = page.locator("main a[href^='/places/']").first.get_attribute("href")
    page = visitor.goto("/admin/users")
    user = page.locator("main a[href^='/admin/users/']:not([href$='invite'])").first.get_attribute("href")
    paths += [survey, f"{survey}/settings", wave, f"{wave}/invitations", f"{wave}/import", place,
              "/admin/organisations/import", user, "/dashboard"]
    findings, back_links = [], 0
    for path in paths:
        page = visitor.goto(path)
        back_links += page.locator("nav .govuk-back-link").count()
        findings += moderate_findings(page)
    assert findings == []
    assert back_links >= 10, "the pages checked have back links, each in a landmark"
