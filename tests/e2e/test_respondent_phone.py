"""A respondent answers the default survey on a 375 px phone, with and without JavaScript,
in a place where organisations from 6 sectors work (issue 13): the screens are counted,
"Don't know" is answered, an optional answer is cleared, every error is read, the answers
are sent; axe checks every screen where scripts run. Every respondent screen is
photographed into SCREENSHOTS (looked at by hand before a change to these pages lands).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from core.cli import upgrade_database
from core.db import utcnow
from core.demo import load_demo_data
from core.models import Organisation, Place, Sector
from core.service import hash_token
from surveys import invitations, service
from surveys.models import AnonymityMode, ReplacedLink
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}
SCREENSHOTS = Path(os.environ.get("HOLDFAST_SCREENSHOTS", "/tmp/holdfast-respondent-screens"))
SIX_SECTORS = ["Voluntary and community", "Local authority", "Health and care", "Funder", "Faith", "Housing"]
MOST_SCREENS = 12


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory) -> Iterator[dict]:
    """A server with a place where 6 sectors work (and one organisation in "Other"), a
    pseudonymous survey with a closing date, invitation links, a withdrawn and a replaced
    link, and a survey that opens next week."""
    folder = tmp_path_factory.mktemp("respondent")
    app = create_app({"SECRET_KEY": "e2e-secret", "PANEL_SECRET": "e2e-panel-secret",
                      "DATABASE_URL": f"sqlite:///{folder / 'respondent.db'}"})
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        place = Place(name="Saltmarsh", description="A fictional place where six sectors work.")
        session.add(place)
        sectors = {s.name: s for s in session.scalars(select(Sector))}
        for name in SIX_SECTORS + ["Other"]:
            session.add(Organisation(name=f"Saltmarsh {name}", sector=sectors[name], place=place))
        session.flush()
        survey = service.create_survey(session, "Saltmarsh working together", "Saltmarsh Partnership Board", "",
                                       "coordination-and-trust", [place.id], AnonymityMode.PSEUDONYMOUS)
        survey.contact_email = "partnership@example.org"
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        wave.closes_at = utcnow() + timedelta(days=10)
        lines = "\n".join(f"person{n}@example.org,,Funder" for n in range(4))
        links = invitations.create_invitations(
            session, wave, invitations.parse_invitees(session, survey.places, lines).invitees, "secret", "link-secret")
        links[2].invitation.revoked_at = utcnow()
        session.add(ReplacedLink(invitation_id=links[3].invitation.id, token_hash=hash_token("replaced-token")))
        later = service.create_survey(session, "Saltmarsh next round", "Saltmarsh Partnership Board", "",
                                      "coordination-and-trust", [place.id], AnonymityMode.ANONYMOUS)
        later.waves[0].opens_at = utcnow() + timedelta(days=7)
        session.commit()
        data = {"tokens": [link.token for link in links], "open_slug": wave.open_link_slug,
                "later_slug": later.waves[0].open_link_slug}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield data | {"url": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    thread.join()
    app.extensions["db_engine"].dispose()


class Phone:
    """A phone's browser tab: with scripts, every screen is checked with axe; each screen
    is photographed."""

    def __init__(self, browser: Browser, base_url: str, javascript: bool, name: str):
        self.context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                           java_script_enabled=javascript)
        self.page: Page = self.context.new_page()
        self.javascript = javascript
        self.visitor = Visitor(self.page, base_url) if javascript else None
        self.base_url = base_url
        self.name = name
        self.shots = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def seen(self, label: str) -> None:
        if self.visitor:
            self.visitor.check()
            # Readable at 375 px: nothing wider than the screen, so no sideways scrolling.
            assert self.page.evaluate("document.documentElement.scrollWidth") <= self.page.viewport_size["width"], self.page.url
        self.shots += 1
        self.page.screenshot(path=SCREENSHOTS / f"{self.name}-{self.shots:02d}-{label}.png", full_page=True)

    def goto(self, path: str, label: str) -> None:
        self.page.goto(self.base_url + path)
        self.seen(label)

    def click(self, selector: str, label: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.seen(label)

    def answer(self, dont_know: str | None = None) -> None:
        """The third answer of every radio group (or "Don't know" for `dont_know`)."""
        names = self.page.eval_on_selector_all("input[type=radio]", "els => [...new Set(els.map(e => e.name))]") \
            if self.javascript else list(dict.fromkeys(
                self.page.locator("input[type=radio]").evaluate_all("els => els.map(e => e.name)")))
        for name in names:
            if name == dont_know:
                self.page.check(f"input[name='{name}'][value=dont_know]")
                continue
            options = self.page.locator(f"input[type=radio][name='{name}']")
            options.nth(min(2, options.count() - 1)).check()
        for box in self.page.locator("textarea").all():
            box.fill("Meet in person more often.")

    def close(self) -> None:
        if self.visitor:
            assert self.visitor.console_errors == []
        self.context.close()


def answer_the_survey(phone: Phone, token: str) -> int:
    """From the start page to the confirmation; the screens from Start now to Send."""
    phone.goto(f"/s/{token}", "start")
    expect(phone.page.locator("#closing-date")).to_contain_text("The survey closes at")
    phone.click("a:has-text('Read the privacy notice')", "privacy")
    expect(phone.page.locator("#pseudonymous")).to_contain_text("pseudonymous, not anonymous")
    expect(phone.page.locator("#contact")).to_contain_text("partnership@example.org")
    phone.click("a:has-text('Back to the survey')", "start-again")
    phone.click("a:has-text('Start now')", "page-1")
    screens = 1

    # Every error at once, each naming its question, each linked to it.
    phone.click("button:has-text('Continue')", "page-1-errors")
    assert phone.page.title() == f"Error: {phone.page.locator('h1').inner_text()} – Holdfast"
    messages = phone.page.locator(".govuk-error-summary__list a").all_inner_texts()
    assert len(messages) == 6 and len(set(messages)) == 6
    assert all(m.startswith("Select how much you agree that ") for m in messages)
    for index, message in enumerate(messages):
        link = phone.page.locator(".govuk-error-summary__list a").nth(index)
        target = link.get_attribute("href")
        assert phone.page.locator(f"{target}").count() == 1
        expect(phone.page.locator(".govuk-error-message").nth(index)).to_contain_text(message)
    phone.answer(dont_know="cs_1")
    phone.click("button:has-text('Continue')", "page-2")
    while "/check" not in phone.page.url:
        screens += 1
        title = phone.page.locator("h1").inner_text()
        if title == "Anything else":
            phone.answer()
            phone.click("button:has-text('Clear my answer')", "cleared")
            expect(phone.page.locator("input[name=quote_ok]:checked")).to_have_count(0)
            expect(phone.page.locator("textarea")).to_have_value("Meet in person more often.")
            assert phone.page.locator("h1").inner_text() == "Anything else"
        else:
            phone.answer()
        phone.click("button:has-text('Continue')", f"after-page-{screens}")
    screens += 1  # check your answers
    expect(phone.page.locator("#closing-date")).to_contain_text("Send your answers by")
    first = phone.page.locator(".govuk-summary-card").first
    expect(first).to_contain_text("Don't know")
    assert phone.page.locator(".govuk-summary-card").count() == screens - 1
    assert phone.page.locator(".govuk-summary-card__actions a").count() == screens - 1
    expect(phone.page.locator(".govuk-summary-card").last).to_contain_text("Do what they say: Mostly")
    phone.click("button:has-text('Send answers')", "done")
    expect(phone.page.locator(".govuk-panel__title")).to_have_text("Answers sent")
    return screens


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_phone_answers_the_default_survey_in_at_most_12_screens(browser, phone_server, javascript):
    name = "js" if javascript else "nojs"
    phone = Phone(browser, phone_server["url"], javascript, name)
    try:
        screens = answer_the_survey(phone, phone_server["tokens"][0 if javascript else 1])
        # 6 pages of agreement questions, "Anything else", 2 trust pages, check your answers.
        assert screens == 10 <= MOST_SCREENS
        assert phone.page.viewport_size["width"] == 375
    finally:
        phone.close()


def test_the_pages_shown_instead_of_the_survey(browser, phone_server):
    phone = Phone(browser, phone_server["url"], True, "other")
    try:
        phone.goto(f"/s/{phone_server['tokens'][2]}", "withdrawn")
        expect(phone.page.locator("h1")).to_have_text("This link no longer works")
        expect(phone.page.locator("main")).to_contain_text("partnership@example.org")
        phone.goto("/s/replaced-token", "replaced")
        expect(phone.page.locator("h1")).to_have_text("This link was replaced")
        phone.goto(f"/o/{phone_server['later_slug']}", "opens-later")
        expect(phone.page.locator("h1")).to_contain_text("This survey opens on")
        phone.goto(f"/o/{phone_server['open_slug']}", "open-start")
        phone.click("a:has-text('Start now')", "about-you")
        phone.click("button:has-text('Continue')", "about-you-errors")
        expect(phone.page.locator(".govuk-error-summary")).to_contain_text("Select the sector your organisation is in")
        phone.page.check("input[name=sector] >> nth=3")
        phone.click("button:has-text('Continue')", "open-page-1")
        phone.answer()
        phone.click("button:has-text('Save and come back later')", "saved")
        expect(phone.page.locator("h1")).to_have_text("Your answers have been saved")
        expect(phone.page.locator("footer a:has-text('Privacy')")).to_have_count(1)

        # A trust page: on the phone one sector's four questions stack, an answer a line;
        # on a wide screen each question's answers share a row, like a table.
        phone.goto(f"/o/{phone_server['open_slug']}/7", "trust-phone")
        first, second = (phone.page.locator("input[type=radio]").nth(i).bounding_box()["y"] for i in (0, 1))
        assert second > first
        phone.page.set_viewport_size({"width": 1024, "height": 800})
        phone.goto(f"/o/{phone_server['open_slug']}/7", "trust-wide")
        first, second = (phone.page.locator("input[type=radio]").nth(i).bounding_box()["y"] for i in (0, 1))
        assert second == first
        assert phone.page.locator("fieldset h2.govuk-fieldset__heading").count() == 3
    finally:
        phone.close()
