"""A coordinator previews the briefing of their place and downloads its PDF, on desktop
and on a 375 px phone; axe checks the preview."""

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
            page.click("a:has-text('Download the briefing (PDF)')")
        assert download.value.suggested_filename == "brackenford-wave-2-to-wave-3.pdf"
        with open(download.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
        assert visitor.console_errors == []
    finally:
        context.close()
