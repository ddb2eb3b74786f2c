"""A coordinator previews the briefing of their place and downloads its PDF, on desktop
and on a 375 px phone; edits and approves a quote and sees it appear; issues the briefing.
axe checks every page."""

import pytest
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_coordinator_previews_and_downloads_a_briefing(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport, accept_downloads=True) if viewport else \
        browser.new_context(accept_downloads=True)
    visitor = Visitor(context.new_page(), live_server)
    try:
        visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
        page = visitor.goto("/analysis/")
        visitor.click("a:has-text('Working together in Brackenford')")
        page.select_option("#place", label="Brackenford")
        visitor.click("button:has-text('Compare')")
        visitor.click("a:has-text('Preview the briefing')")
        expect(page.locator("h1")).to_have_text("Are the gains holding?")
        expect(page.locator("#headline")).to_contain_text("Momentum is slipping")
        assert page.locator("img.hf-chart").first.evaluate("img => img.complete && img.naturalWidth > 0")
        if viewport:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        with page.expect_download() as download:
            page.click("a:has-text('Download this preview (PDF)')")
        assert download.value.suggested_filename == "brackenford-wave-2-to-wave-3.pdf"
        with open(download.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
        assert visitor.console_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_coordinator_approves_a_quote_and_issues_the_briefing(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport) if viewport else browser.new_context()
    visitor = Visitor(context.new_page(), live_server)
    place = "Eastholme" if viewport else "Brackenford"  # the two runs share the demo data
    try:
        visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
        page = visitor.goto("/analysis/")
        visitor.click(f"a:has-text('Working together in {place}')")
        page.select_option("#place", label=place)
        visitor.click("button:has-text('Compare')")
        visitor.click("a:has-text('Preview the briefing')")
        expect(page.locator("#quotes")).to_be_visible()
        expect(page.locator("section:has(#quotes)")).to_contain_text("No quotes from Wave 3 have been chosen")
        preview = page.url
        visitor.click("a:has-text('Review quotes from Wave 3')")
        expect(page.locator("h1")).to_have_text("Quotes from Wave 3")
        flagged = page.locator("div[id^=quote-]:has-text('Sarah Okafor')").first
        expect(flagged).to_contain_text("May be a name “Sarah Okafor”")
        quote_id = flagged.get_attribute("id")
        flagged.locator("textarea").fill("Keep the weekly partners' call going: the chair runs it.")
        visitor.click(f"#{quote_id} button:has-text('Approve')")
        expect(page.locator(f"#{quote_id}")).to_contain_text("Approved, edited")
        visitor.click(f"#{quote_id} button:has-text('Add to briefings')")
        expect(page.locator(f"#{quote_id}")).to_contain_text("In briefings")
        if viewport:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.goto(preview)
        visitor.check()
        quotes = page.locator("section:has(#quotes)")
        expect(quotes).to_contain_text("Keep the weekly partners' call going: the chair runs it.")
        expect(quotes).not_to_contain_text("Sarah Okafor")
        page.fill("#foreword", f"For the {place} partnership board.")
        visitor.click("button:has-text('Issue this briefing')")
        expect(page.locator("h1")).to_have_text("Issued briefings")
        expect(page.locator("table")).to_contain_text(f"{place}: Wave 3 against Wave 2")
        assert visitor.console_errors == []
    finally:
        context.close()
