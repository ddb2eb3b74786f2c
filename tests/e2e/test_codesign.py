"""A whole workshop in a browser: a facilitator's console on a desktop, a participant's
phone at 375 px following it by polling, and a second phone with JavaScript off. Every
page is checked with axe (the phone without JavaScript sees the same pages, which axe,
a script itself, cannot run in)."""

import re

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


class WithoutJavaScript(Visitor):
    """A phone with JavaScript off: pages load and forms post, but axe cannot run."""

    def check(self) -> None:
        self.checked.append(self.page.url)


def join(visitor: Visitor, code: str, sector: str) -> None:
    visitor.goto("/join")
    visitor.page.fill("#code", code.lower())
    visitor.click("button:has-text('Continue')")
    expect(visitor.page.locator("main")).to_contain_text("not a confidential survey answer")
    visitor.page.get_by_label(sector, exact=True).check()
    visitor.page.get_by_label("In the room", exact=True).check()
    visitor.click("button:has-text('Join the workshop')")


def move_on(console: Visitor, stage: str) -> None:
    console.click(f"button:has-text('Move everyone to: {stage}')")
    expect(console.page.locator("main")).to_contain_text(f"Everyone has moved to: {stage}")


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_workshop_run_from_a_console_with_phones(browser, live_server, tmp_path):
    contexts = [browser.new_context(), browser.new_context(viewport=PHONE),
                browser.new_context(viewport=PHONE, java_script_enabled=False)]
    console, phone = (Visitor(context.new_page(), live_server) for context in contexts[:2])
    plain = WithoutJavaScript(contexts[2].new_page(), live_server)
    try:
        console.sign_in("facilitator@example.org", DEMO_PASSWORD)
        console.click("a:has-text('Workshops')")
        console.click("a:has-text('Create a workshop')")
        page = console.page
        page.fill("#title", "Keeping the gains")
        page.fill("#held_on-day", "27")
        page.fill("#held_on-month", "3")
        page.fill("#held_on-year", "2027")
        console.click("button:has-text('Create workshop')")
        expect(page.locator("h1")).to_have_text("Prompts")
        expect(page.locator("main")).to_contain_text("the Results page’s defaults")
        assert page.input_value("#prompts").startswith("How might we")
        console.click("button:has-text('Save prompts')")
        console.click("button:has-text('Open the workshop')")
        code = re.search(r"Join code: ([A-Z0-9]{6})", page.locator("main").inner_text()).group(1)
        console.click("a:has-text('Screen for the projector')")
        expect(page.locator("svg.segno")).to_be_visible()
        page.screenshot(path=str(tmp_path / "screen.png"), full_page=True)
        console.goto(page.url.removeprefix(live_server).removesuffix("/screen"))
        console_url = page.url.removeprefix(live_server)

        join(phone, code, "Local authority")
        expect(phone.page.locator("h1")).to_have_text("Review the results")
        expect(phone.page.locator("main")).to_contain_text("What the survey found")
        fits_the_phone(phone.page)
        phone.page.screenshot(path=str(tmp_path / "phone-review.png"), full_page=True)
        join(plain, code, "Voluntary and community")

        move_on(console, "Ideas")
        # The phone with JavaScript follows by itself; the one without reloads.
        expect(phone.page.locator("h1")).to_have_text("Ideas", timeout=15000)
        phone.check()
        phone.page.fill("#text", "A shared calendar of every partnership meeting")
        phone.click("button:has-text('Add idea')")
        plain.goto(f"/w/{code}")
        plain.page.fill("#text", "Swap staff between organisations for a week")
        plain.click("button:has-text('Add idea')")
        expect(plain.page.locator("main")).to_contain_text("A shared calendar")
        fits_the_phone(phone.page)
        phone.page.screenshot(path=str(tmp_path / "phone-ideas.png"), full_page=True)
        console.page.fill("#minutes", "5")
        console.click("button:has-text('Set timer')")
        # The phone reloads for the new deadline and counts down to it.
        expect(phone.page.locator("[data-deadline]")).to_have_text(re.compile(r"^[45]:\d\d left$"), timeout=15000)

        move_on(console, "Group the ideas")
        console.goto(console_url + "/cluster")
        console.page.fill("#name", "Knowing each other")
        console.click("button:has-text('Add group')")
        for select in console.page.locator("form select").all():
            select.select_option(label="Knowing each other")
        console.click("button:has-text('Save groups')")
        expect(console.page.locator("#cluster-board")).to_contain_text("Swap staff")
        # Drag and drop where JavaScript runs: the calendar idea into a new group.
        console.page.fill("#name", "Get-togethers")
        console.click("button:has-text('Add group')")
        with console.page.expect_navigation():
            console.page.drag_and_drop("[data-idea]:has-text('A shared calendar')", "[data-cluster]:has-text('Get-togethers')")
        expect(console.page.locator("[data-cluster]:has-text('Get-togethers')")).to_contain_text("A shared calendar")
        console.check()
        console.click("a:has-text('Rename Get-togethers')")
        console.page.fill("#name", "Getting together")
        console.click("button:has-text('Rename')")
        expect(console.page.locator("#cluster-board")).to_contain_text("Getting together")

        console.goto(console_url)
        move_on(console, "Dot vote")
        expect(phone.page.locator("h1")).to_have_text("Dot vote", timeout=15000)
        phone.check()
        phone.page.locator("select").first.select_option("3")
        phone.page.locator("select").nth(1).select_option("2")
        phone.click("button:has-text('Save my dots')")
        expect(phone.page.locator("main")).to_contain_text("You have 0 of 5 dots left")
        fits_the_phone(phone.page)
        phone.page.screenshot(path=str(tmp_path / "phone-vote.png"), full_page=True)
        plain.goto(f"/w/{code}")
        plain.page.locator("select").nth(1).select_option("5")
        plain.click("button:has-text('Save my dots')")
        expect(plain.page.locator("main")).to_contain_text("You have 0 of 5 dots left")

        console.goto(console_url + "/paper")
        page.select_option("#sector", label="Health and care")
        console.click("button:has-text('Show this sector’s counts')")
        page.fill("#people", "3")
        page.locator("input[name^='idea_']").first.fill("2")
        console.click("button:has-text('Save paper votes')")
        expect(page.locator("main")).to_contain_text("Health and care (3 people)")
        console.goto(console_url)
        move_on(console, "Prioritise")
        console.goto(console_url + "/prioritise")
        console.page.select_option("select[name^='impact_']", "5")
        console.page.select_option("select[name^='effort_']", "2")
        console.click("button:has-text('Save the grid')")
        console.goto(console_url)
        move_on(console, "Agree actions")
        console.goto(console_url + "/actions")
        page.fill("#title", "Share one diary of partnership meetings")
        page.select_option("#organisation", label="Wexcombe Together")
        page.fill("#owner_name", "Priya Owner")
        page.fill("#due_on-day", "1")
        page.fill("#due_on-month", "6")
        page.fill("#due_on-year", "2027")
        console.click("button:has-text('Add action')")
        expect(page.locator("main")).to_contain_text("Action added for Priya Owner")
        console.goto(console_url + "/results")
        expect(page.locator("main")).to_contain_text("Consensus across sectors")
        expect(page.locator("main")).to_contain_text("Other sectors")  # two people, one per sector: pooled
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        console.goto(console_url)
        page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        move_on(console, "Finished")

        expect(phone.page.locator("h1")).to_have_text("What the workshop agreed", timeout=15000)
        phone.check()
        # A phone has no account: the owning organisation, not the owner's name.
        expect(phone.page.locator("main")).to_contain_text("Share one diary of partnership meetings: Wexcombe Together")
        expect(phone.page.locator("main")).not_to_contain_text("Priya Owner")
        fits_the_phone(phone.page)
        phone.page.screenshot(path=str(tmp_path / "phone-summary.png"), full_page=True)
        console.goto("/actions")
        expect(page.locator("main")).to_contain_text("Share one diary")
        console.click("a:has-text('Share one diary')")
        owner_link = re.search(r"(/action-update/[0-9a-f-]+)", page.locator("main").inner_text()).group(1)
        page.get_by_label("In progress", exact=True).check()
        page.fill("#note", "Draft calendar shared")
        console.click("button:has-text('Save update')")
        expect(page.locator("main")).to_contain_text("Draft calendar shared")
        owner = Visitor(contexts[1].new_page(), live_server)  # the owner, on a phone, no account
        owner.goto(owner_link)
        owner.page.get_by_label("Done", exact=True).check()
        owner.click("button:has-text('Save update')")
        expect(owner.page.locator("main")).to_contain_text("Priya Owner (owner)")
        fits_the_phone(owner.page)
        assert console.console_errors == [] and phone.console_errors == [] and plain.console_errors == []
        assert owner.console_errors == []
    finally:
        for context in contexts:
            context.close()
