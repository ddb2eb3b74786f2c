"""An admin corrects a user's name and email, merges two organisations after seeing what
will move, and deletes what nothing uses, in a real browser. Axe checks every page.

The live server's demo data is shared with the other browser tests, so these change only
a user and organisations the test makes itself."""

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD


def test_an_admin_changes_a_users_name_and_email(visitor):
    page = visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Users')")
    visitor.click("a:has-text('Invite a user')")
    page.fill("#name", "Rowan Misspelt")
    page.fill("#email", "rowan.old@example.org")
    page.check("input[name=role][value=evaluator]")
    visitor.click("button:has-text('Invite user')")
    visitor.goto("/admin/users")
    visitor.click("a:has-text('Rowan Misspelt')")
    visitor.click("a:has-text('Change name or email address')")
    expect(page.locator("h1")).to_have_text("Change Rowan Misspelt’s name or email address")

    page.fill("#email", "ADMIN@example.org")  # the demo admin's address, in capitals
    visitor.click("button:has-text('Save name and email')")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Another account already uses this email address")

    page.fill("#name", "Rowan Mistry")
    page.fill("#email", "Rowan.Mistry@example.org")
    visitor.click("button:has-text('Save name and email')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Rowan Mistry’s name and email address saved. They sign in with rowan.mistry@example.org.")
    expect(page.locator(".govuk-caption-l")).to_have_text("rowan.mistry@example.org")

    visitor.goto("/admin/audit")
    expect(page.locator("main")).to_contain_text(
        "rowan.old@example.org: name changed from Rowan Misspelt to Rowan Mistry; "
        "email changed from rowan.old@example.org to rowan.mistry@example.org")


def test_an_admin_merges_two_organisations_then_deletes_what_nothing_uses(visitor):
    page = visitor.sign_in("admin@example.org", DEMO_PASSWORD)
    for name in ("Eastholme Men's Shed", "Eastholme Mens Shed"):
        visitor.goto("/admin/organisations/new")
        page.fill("#name", name)
        page.select_option("#sector", label="Voluntary and community")
        page.select_option("#place", label="Eastholme")
        visitor.click("button:has-text('Save organisation')")

    visitor.click("a:has-text('Eastholme Mens Shed')")
    visitor.click("a:has-text('Merge into another organisation')")
    visitor.click("button:has-text('Continue')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the organisation to merge into from the list")
    page.select_option("#survivor", label="Eastholme Men's Shed")
    visitor.click("button:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Merge Eastholme Mens Shed into Eastholme Men's Shed?")
    expect(page.locator("#what-happens")).to_contain_text("Nothing names Eastholme Mens Shed yet")
    visitor.click("button:has-text('Merge organisations')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Eastholme Mens Shed merged into Eastholme Men's Shed.")
    expect(page.locator("main table")).not_to_contain_text("Eastholme Mens Shed")

    # A place the demo surveys use cannot be deleted, and the page says what uses it.
    visitor.goto("/places")
    visitor.click("main a:has-text('Eastholme')")
    visitor.goto(urlsplit(page.url).path.replace("/places/", "/admin/places/") + "/delete")
    expect(page.locator("h1")).to_have_text("Eastholme is still in use")
    expect(page.locator("#still-used-by")).to_contain_text("organisations")

    visitor.goto("/admin/organisations")
    visitor.click("a:has-text(\"Eastholme Men's Shed\")")
    visitor.click("a:has-text('Delete this organisation')")
    expect(page.locator("h1")).to_have_text("Delete Eastholme Men's Shed?")
    visitor.click("button:has-text('Delete organisation')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Organisation Eastholme Men's Shed deleted.")
