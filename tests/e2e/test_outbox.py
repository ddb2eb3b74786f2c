"""A coordinator reads a wave's email page, on desktop and a 375 px phone; axe checks it."""

import pytest
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_coordinator_reads_the_email_page_of_a_wave(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport) if viewport else browser.new_context()
    visitor = Visitor(context.new_page(), live_server)
    try:
        visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
        page = visitor.goto("/surveys")
        visitor.click("a:has-text('Working together in Brackenford')")
        visitor.click("a:has-text('Wave 3')")
        wave_url = page.url
        page = visitor.goto(wave_url.removeprefix(live_server) + "/outbox")
        expect(page.locator("h1")).to_have_text("Email for Wave 3")
        expect(page.locator("main")).to_contain_text("No mail server is set up for Holdfast")
        if viewport:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert visitor.console_errors == []
    finally:
        context.close()
