"""A coordinator keeps in touch with who was invited: bare addresses with a default
sector, the copy button, the invitee list, a new link, revoking, the schedule and the
open link's QR code; the respondent's old link says it was replaced, on a phone without
JavaScript; "stop reminding me" works there too. Axe checks every page."""

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


def test_a_coordinator_gives_a_new_link_revokes_and_schedules(visitor, browser, live_server):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Surveys')")
    visitor.click("a:has-text('Create a survey')")
    page.fill("#name", "Keeping in touch")
    page.fill("#run_by", "Brackenford Partnership Board")
    page.check("input[name=places] >> nth=0")
    visitor.click("button:has-text('Create survey')")
    visitor.click("a:has-text('Wave 1')")
    visitor.click("a:has-text('Open Wave 1')")
    visitor.click("button:has-text('Open Wave 1')")
    expect(page.locator(".holdfast-qr svg")).to_have_count(1)
    expect(page.locator("button:has-text('Copy the open link')")).to_be_visible()

    visitor.click("a:has-text('Invite people')")
    page.select_option("#default_sector", label="Funder")
    page.fill("#invitees", "lost@example.org\nleaving@example.org")
    visitor.click("button:has-text('Invite these people')")
    expect(page.locator("h1")).to_have_text("2 invitation links created")
    expect(page.locator("button.holdfast-copy").first).to_be_visible()  # shown only where the script runs
    old_link = page.input_value("#link-1")
    wave_url = page.url.replace("/invitations", "")

    page.goto(wave_url)
    visitor.check()
    visitor.click("a:has-text('Who was invited')")
    expect(page.locator("#invitee-counts")).to_contain_text("Link given: 2")
    visitor.click("a:has-text('New link') >> nth=0")
    expect(page.locator("h1")).to_have_text("Give lost@example.org a new link?")
    visitor.click("button:has-text('Give a new link')")
    expect(page.locator("h1")).to_have_text("A new link for lost@example.org")
    new_link = page.input_value("#link-1")
    assert new_link != old_link

    page.goto(wave_url + "/invitees")
    visitor.check()
    visitor.click("a:has-text('Revoke') >> nth=1")
    expect(page.locator("h1")).to_have_text("Revoke the invitation for leaving@example.org?")
    visitor.click("button:has-text('Revoke the invitation')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The invitation is revoked")
    expect(page.locator("tbody tr >> nth=1")).to_contain_text("Revoked")

    page.goto(wave_url)
    visitor.check()
    visitor.click("a:has-text('Schedule')")
    page.fill("#closes_at", "last week")
    visitor.click("button:has-text('Save the schedule')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a date and time like 31/3/2027 17:00")
    assert page.title().startswith("Error: ")
    page.fill("#closes_at", "31/12/2099 17:00")
    visitor.click("button:has-text('Save the schedule')")
    expect(page.locator(".govuk-summary-list")).to_contain_text("31 December 2099")

    # The respondent, on a phone without JavaScript, with the old link and then the new one.
    # (Axe is a script, so it cannot run there: a phone with JavaScript checks the same pages after.)
    bare = browser.new_context(viewport=PHONE, is_mobile=True, java_script_enabled=False)
    try:
        respondent = bare.new_page()
        respondent.goto(old_link)
        expect(respondent.locator("h1")).to_have_text("This link was replaced")
        respondent.goto(new_link)
        expect(respondent.locator("h1")).to_have_text("Keeping in touch")
        expect(respondent.locator("main")).to_contain_text("31 December 2099")
        respondent.goto(new_link + "/stop-reminders")
        with respondent.expect_navigation():
            respondent.click("button:has-text('Stop reminding me')")
        expect(respondent.locator(".govuk-panel__title")).to_have_text("You will not be reminded again")
    finally:
        bare.close()
    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    checker = Visitor(phone.new_page(), live_server)
    try:
        for link in (old_link, new_link, new_link + "/stop-reminders"):
            checker.goto(link.removeprefix(live_server))
            assert checker.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert checker.console_errors == []
    finally:
        phone.close()

    page.goto(wave_url + "/invitees")
    visitor.check()
    expect(page.locator("tbody tr >> nth=0")).to_contain_text("asked for no more")
