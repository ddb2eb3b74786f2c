"""Signing in, administering organisations and users, and form errors, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD, DEMO_USERS


@pytest.mark.parametrize("email, name, role", [(e, n, r.value) for e, n, r, _ in DEMO_USERS])
def test_sign_in_as_each_role(visitor, email, name, role):
    page = visitor.goto("/")
    expect(page.locator("h1")).to_contain_text("gains")
    visitor.click("a.govuk-button--start")
    visitor.page.fill("#email", email)
    visitor.page.fill("#password", DEMO_PASSWORD)
    visitor.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("h1")).to_have_text(f"Hello, {name}")
    expect(page.locator("main")).to_contain_text(f"signed in as a{'n' if role in ('admin', 'evaluator') else ''} {role}")
    visitor.click(".govuk-service-navigation a:has-text('Places')")
    visitor.sign_out()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out.")


def test_coordinator_sees_only_their_places(visitor):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Places')")
    places = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert places == ["Brackenford", "Eastholme"]
    visitor.click("a:has-text('Eastholme')")
    expect(page.locator("main table")).to_contain_text("Coastline Housing Trust")


def test_admin_creates_an_organisation(visitor):
    page = visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Organisations')")
    visitor.click("a:has-text('Add an organisation')")
    page.fill("#name", "Brackenford Youth Forum")
    page.select_option("#sector", label="Education")
    page.select_option("#place", label="Brackenford")
    visitor.click("button:has-text('Save organisation')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Brackenford Youth Forum saved.")
    row = page.locator("tr", has_text="Brackenford Youth Forum")
    expect(row).to_contain_text("Education")
    expect(row).to_contain_text("Brackenford")


def test_failed_forms_show_the_error_summary(visitor):
    page = visitor.goto("/sign-in")
    visitor.click("button:has-text('Sign in')")
    expect(page).to_have_title(re.compile(r"^Error: Sign in"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter your email address")
    expect(summary).to_be_focused()  # GOV.UK Frontend's script ran under our CSP
    page.click(".govuk-error-summary a:has-text('Enter your email address')")
    expect(page.locator("#email")).to_be_focused()

    visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    visitor.goto("/admin/places/new")
    visitor.click("button:has-text('Save place')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name")
    expect(page.locator("#name-error")).to_contain_text("Enter a name")


def test_admin_invites_a_user_who_sets_a_password(visitor):
    page = visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Users')")
    visitor.click("a:has-text('Invite a user')")
    page.fill("#name", "Priya Patel")
    page.fill("#email", "priya@example.org")
    page.check("input[name=role][value=facilitator]")
    page.check("input[name=places] >> nth=2")
    visitor.click("button:has-text('Invite user')")
    link = page.input_value("#set-password-link")
    visitor.sign_out()

    visitor.page.goto(link)
    visitor.check()
    page.fill("#password", "tidal harbour lantern")
    page.fill("#confirm", "tidal harbour lantern")
    visitor.click("button:has-text('Set password')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your password is set")
    visitor.sign_in("priya@example.org", "tidal harbour lantern")
    expect(page.locator("h1")).to_have_text("Hello, Priya Patel")

    visitor.page.goto(link)  # used once already
    visitor.check()
    expect(page.locator("h1")).to_have_text("This link cannot be used")


def test_organisation_import_reports_problems(visitor, tmp_path):
    page = visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    visitor.goto("/admin/organisations/import")
    bad = tmp_path / "organisations.csv"
    bad.write_text("name,sector,place\nHarbour Arts,Business,Eastholme\nGhost Org,Spirits,Eastholme\n")
    page.set_input_files("#file", str(bad))
    visitor.click("button:has-text('Import organisations')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Nothing was imported")
    expect(page.locator("main table")).to_contain_text("Sector ‘Spirits’ is not a known sector")

    bad.write_text("name,sector,place\nHarbour Arts,Business,Eastholme\n")
    page.set_input_files("#file", str(bad))
    visitor.click("button:has-text('Import organisations')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("1 organisation imported.")
    expect(page.locator("main table")).to_contain_text("Harbour Arts")
