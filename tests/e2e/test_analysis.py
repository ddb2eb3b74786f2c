"""An evaluator compares two demo waves, drills into a construct and a sector, and opens
the trust network; axe checks every page on the way."""

import os

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD

SCREENSHOTS = os.environ.get("HOLDFAST_SCREENSHOTS")  # a folder: save each page to look at


def snap(visitor, name: str) -> None:
    if SCREENSHOTS:
        visitor.page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def verdict_of(page, construct: str) -> str:
    row = page.locator("#constructs tbody tr", has=page.locator(f"th a:text-is('{construct}')"))
    return row.locator(".holdfast-verdict").inner_text()


def test_an_evaluator_compares_waves_and_drills_into_a_construct_and_a_sector(visitor):
    page = visitor.sign_in("evaluator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Results')")
    visitor.click("a:has-text('Working together in Brackenford')")
    page.select_option("#reference", label="Wave 2 (gain)")
    page.select_option("#current", label="Wave 3 (follow-up)")
    page.select_option("#baseline", label="Wave 1 (baseline)")
    visitor.click("button:has-text('Compare')")
    expect(page.locator("#results")).to_have_text("Wave 3 against Wave 2 (baseline Wave 1), all places")
    # The effects the demo data was generated to show.
    assert verdict_of(page, "Trust") == "✔ Holding"
    assert verdict_of(page, "Momentum") == "✖ Slipping"
    assert verdict_of(page, "Shared focus") == "▲ Improving"
    assert page.locator("img.holdfast-chart").evaluate("img => img.complete && img.naturalWidth > 0")
    snap(visitor, "comparison")

    visitor.click("#constructs a:text-is('Momentum')")
    expect(page.locator("h1")).to_have_text("Momentum")
    faith = page.locator("#sectors tbody tr", has=page.locator("a:text-is('Faith')"))
    expect(faith).to_contain_text("Fewer than 5 responses")
    expect(page.locator("#trend tbody tr")).to_have_count(3)
    snap(visitor, "construct")

    visitor.click("#sectors a:text-is('Local authority')")
    expect(page.locator("h1")).to_have_text("Local authority")
    expect(page.locator("#sector-constructs tbody tr")).to_have_count(11)
    snap(visitor, "sector")

    visitor.click(".govuk-back-link")
    visitor.click("a:has-text('See the trust network')")
    expect(page.locator("h1")).to_have_text("Trust between sectors")
    biggest = page.locator("#trust-changes tbody tr").first
    expect(biggest).to_contain_text("Local authority trusting Voluntary and community")
    snap(visitor, "trust")

    visitor.click(".govuk-back-link")
    visitor.click("#results + p a:has-text('How to read this')")
    expect(page.locator("h1")).to_have_text("How to read the results")


def test_a_coordinator_chooses_their_place_on_a_phone(visitor, browser, live_server):
    from tests.e2e.conftest import Visitor

    phone = Visitor(browser.new_context(viewport={"width": 375, "height": 740}).new_page(), live_server)
    page = phone.sign_in("coordinator@example.org", DEMO_PASSWORD)
    phone.goto("/analysis/")
    phone.click("a:has-text('Working together in Brackenford')")
    page.select_option("#place", label="Brackenford")
    phone.click("button:has-text('Compare')")
    expect(page.locator("#results")).to_contain_text("Brackenford")
    expect(page.locator("#constructs tbody tr")).to_have_count(11)
    snap(phone, "phone")
    assert phone.console_errors == []
