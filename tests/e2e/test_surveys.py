"""A coordinator runs a wave; a respondent answers on a phone; the count rises."""

import re

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


def answer_page(visitor: Visitor) -> None:
    """Pick the third option of every radio group on the page and fill any text box."""
    page = visitor.page
    names = page.eval_on_selector_all("input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
    for name in names:
        options = page.locator(f"input[type=radio][name='{name}']")
        options.nth(min(2, options.count() - 1)).check()
    for box in page.locator("textarea").all():
        box.fill("Keep meeting in person.")


def test_coordinator_runs_a_wave_and_a_respondent_answers_on_a_phone(visitor, browser, live_server):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Surveys')")
    visitor.click("a:has-text('Create a survey')")
    page.fill("#name", "Eastholme working together")
    page.fill("#run_by", "Eastholme Partnership Board")
    page.check("input[name=places] >> nth=1")
    visitor.click("button:has-text('Create survey')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Eastholme working together created")
    visitor.click("a:has-text('Wave 1')")
    # A question removed, after a page saying what that does.
    visitor.click("a:has-text('Remove') >> nth=0")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Remove question \w+\?$"))
    removed = page.locator("h1").inner_text().split()[-1].rstrip("?")
    visitor.click("button:has-text('Remove question')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Question {removed} removed.")
    visitor.click("a:has-text('Open Wave 1')")
    expect(page.locator("h1")).to_have_text("Open Wave 1?")
    expect(page.locator("#what-happens")).to_contain_text("freezes its")
    visitor.click("button:has-text('Open Wave 1')")
    expect(page.locator("h1")).to_contain_text("Open")
    visitor.click("a:has-text('Invite people')")
    page.fill("#invitees", "pat@example.org,Coastline Housing Trust,")
    visitor.click("button:has-text('Invite these people')")
    link = page.input_value("#link-1")
    wave_url = page.url.replace("/invitations", "")

    # The respondent, on a phone, in a browser of their own.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    respondent = Visitor(phone.new_page(), live_server)
    try:
        respondent.page.goto(link)
        respondent.check()
        expect(respondent.page.locator("h1")).to_have_text("Eastholme working together")
        respondent.click("a:has-text('Start now')")
        answer_page(respondent)
        respondent.click("button:has-text('Continue')")
        answer_page(respondent)
        respondent.click("button:has-text('Save and come back later')")
        expect(respondent.page.locator("h1")).to_have_text("Your answers have been saved")

        # Later: the same link takes them back to where they stopped.
        respondent.page.goto(link)
        respondent.check()
        respondent.click("a:has-text('Continue where you left off')")
        expect(respondent.page.locator("#progress")).to_contain_text("Section 2 of")
        expect(respondent.page.locator("input[type=radio]:checked")).to_have_count(6)
        respondent.click("button:has-text('Continue')")
        while "/check" not in respondent.page.url:
            answer_page(respondent)
            respondent.click("button:has-text('Continue')")
        expect(respondent.page.locator("h1")).to_have_text("Check your answers before sending them")
        respondent.click("button:has-text('Send answers')")
        expect(respondent.page.locator(".govuk-panel__title")).to_have_text("Answers sent")

        respondent.page.goto(link)
        respondent.check()
        expect(respondent.page.locator("h1")).to_have_text("You have already sent your answers")
        assert respondent.console_errors == []
    finally:
        phone.close()

    page.goto(wave_url)
    visitor.check()
    expect(page.locator("#response-total")).to_have_text("1")  # the total is shown exactly; its groups are not
    expect(page.locator("#responses-by-sector")).to_contain_text("fewer than 5 responses")

    # Closing, then erasing who was invited: each says what it will do before doing it.
    visitor.click("a:has-text('Close Wave 1')")
    expect(page.locator("h1")).to_have_text("Close Wave 1?")
    expect(page.locator("#what-happens")).to_contain_text("Wave 1 has 1 response.")
    visitor.click("a:has-text('Cancel')")
    expect(page.locator("h1")).to_contain_text("Open")  # nothing happened
    visitor.click("a:has-text('Close Wave 1')")
    visitor.click("button:has-text('Close Wave 1')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Wave 1 is closed.")
    visitor.click("a:has-text('Erase who was invited')")
    expect(page.locator("#what-happens")).to_contain_text("This deletes the 1 email address of the people invited")
    visitor.click("button:has-text('Erase who was invited')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been erased. Responses are kept.")


def test_a_respondent_sees_errors_in_the_error_summary(visitor, browser, live_server):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.goto("/surveys/new")
    page.fill("#name", "Error summary check")
    page.fill("#run_by", "Board")
    page.check("input[name=places] >> nth=0")
    visitor.click("button:has-text('Create survey')")
    visitor.click("a:has-text('Wave 1')")
    visitor.click("a:has-text('Open Wave 1')")
    visitor.click("button:has-text('Open Wave 1')")
    open_link = page.input_value("#open-link")

    respondent = Visitor(browser.new_context(viewport=PHONE).new_page(), live_server)
    respondent.page.goto(open_link)
    respondent.check()
    respondent.click("a:has-text('Start now')")
    respondent.click("button:has-text('Continue')")
    expect(respondent.page).to_have_title(re.compile("^Error: About your organisation"))
    respondent.page.check("input[name=sector] >> nth=0")
    respondent.click("button:has-text('Continue')")
    respondent.click("button:has-text('Continue')")
    summary = respondent.page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Select how much you agree")
    expect(summary).to_be_focused()
    respondent.page.locator(".govuk-error-summary a").first.click()
    expect(respondent.page.locator("#cs_1")).to_be_focused()
    assert respondent.console_errors == []
    respondent.page.context.close()
