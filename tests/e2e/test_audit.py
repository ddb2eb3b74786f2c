"""A coordinator closes a wave and reads the survey's audit log; axe checks every page."""

import re

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.test_analysis import snap
from tests.e2e.test_surveys import PHONE


def test_a_coordinator_reads_the_audit_log_after_closing_a_wave(visitor):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Surveys')")
    visitor.click("a:has-text('Create a survey')")
    page.fill("#name", "Brackenford audit check")
    page.fill("#run_by", "Brackenford Partnership Board")
    page.check("input[name=places] >> nth=0")
    visitor.click("button:has-text('Create survey')")
    visitor.click("a:has-text('Wave 1')")
    visitor.click("a:has-text('Open Wave 1')")  # each goes through a page saying what it will do
    visitor.click("button:has-text('Open Wave 1')")
    visitor.click("a:has-text('Close Wave 1')")
    visitor.click("button:has-text('Close Wave 1')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Wave 1 is closed")
    visitor.click(".govuk-back-link")
    visitor.click("a:has-text('Audit log')")

    expect(page.locator("h1")).to_have_text("Audit log")
    rows = page.locator("#audit-log tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("coordinator@example.org")
    expect(rows.nth(0)).to_contain_text("Wave 1 closed")
    expect(rows.nth(1)).to_contain_text("Wave 1 opened")
    expect(rows.nth(0).locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.locator(".govuk-service-navigation__item--active")).to_have_text("Surveys")
    snap(visitor, "audit")

    # On a phone the table fits: long email addresses and details wrap.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(visitor, "audit-phone")
