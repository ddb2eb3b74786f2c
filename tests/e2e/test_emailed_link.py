"""With a mail server (a real aiosmtpd): a coordinator invites someone, the worker emails
the link, a reminder is asked for and sent; the respondent follows the emailed link on a
phone without JavaScript, answers and sends, and the stop link in the reminder works."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update
from werkzeug.serving import make_server

from app import create_app
from core import outbox
from core.cli import upgrade_database
from core.db import utcnow
from core.demo import DEMO_PASSWORD, load_demo_data
from surveys import service
from surveys.models import AnonymityMode, Invitation
from tests.core.test_outbox import settings, smtp  # noqa: F401 - the SMTP server fixture
from tests.e2e.conftest import Visitor

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def mailing_server(tmp_path, smtp) -> Iterator[tuple[str, object]]:  # noqa: F811
    app = create_app({
        "SECRET_KEY": "e2e-mail-secret", "PANEL_SECRET": "e2e-mail-panel",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'mail.db'}", "CACHE_DIR": str(tmp_path / "cache"),
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "MAIL_SENDER": "holdfast@example.org",
    })
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
        survey = service.create_survey(session, "Emailed survey", "Brackenford Partnership Board", "",
                                       "coordination-and-trust", [1], AnonymityMode.ANONYMOUS)
        service.open_wave(session, survey.waves[0], actor=None)
        wave_id = survey.waves[0].id
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app, wave_id
    server.shutdown()
    thread.join()
    app.extensions["db_engine"].dispose()


def deliver(app, smtp) -> None:  # noqa: F811
    """What the worker does on its next pass."""
    with app.extensions["db_sessionmaker"]() as session:
        outbox.run_once(session, settings(smtp.port))


def answer_every_page(page) -> None:
    """The third answer of every radio group on each page, then Continue, up to the check page."""
    while "/check" not in page.url:
        names = dict.fromkeys(page.locator("input[type=radio]").evaluate_all("els => els.map(e => e.name)"))
        for name in names:
            options = page.locator(f"input[type=radio][name='{name}']")
            options.nth(min(2, options.count() - 1)).check()
        with page.expect_navigation():
            page.click("button:has-text('Continue')")


def test_a_respondent_follows_the_emailed_link_on_a_phone_without_javascript(browser, mailing_server, smtp):  # noqa: F811
    base, app, wave_id = mailing_server
    coordinator = Visitor(browser.new_page(), base)
    try:
        coordinator.sign_in("coordinator@example.org", DEMO_PASSWORD)
        page = coordinator.goto(f"/waves/{wave_id}/invitations")
        page.select_option("#default_sector", label="Funder")
        page.fill("#invitees", "phone@example.org\nlater@example.org")
        coordinator.click("button:has-text('Invite these people')")
        expect(page.locator(".govuk-inset-text")).to_contain_text("Each person is being emailed their link")
        deliver(app, smtp)
        invitation = next(m for m in smtp.messages if m["To"] == "phone@example.org")
        link = re.search(r"(http://\S+/s/[\w-]+)", invitation.get_payload()).group(1)

        # A week on, the coordinator asks for reminders for those who have not answered.
        with app.extensions["db_sessionmaker"]() as session:
            session.execute(update(Invitation).values(created_at=utcnow() - timedelta(days=7)))
            session.commit()
        coordinator.goto(f"/waves/{wave_id}/invitees")
        coordinator.click("a:has-text('Send reminders')")
        expect(page.locator("h1")).to_have_text("Send reminders for Wave 1?")
        coordinator.click("button:has-text('Send 2 reminders')")
        expect(page.locator(".govuk-notification-banner")).to_contain_text("2 reminders queued to send")
        deliver(app, smtp)
        reminder = next(m for m in smtp.messages if m["To"] == "later@example.org" and "reminder" in m["Subject"])
        stop_link = re.search(r"(http://\S+/stop-reminders)", reminder.get_payload()).group(1)
        coordinator.goto(f"/waves/{wave_id}/outbox")
        expect(page.locator("td .govuk-tag")).to_have_count(4)
    finally:
        coordinator.page.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, java_script_enabled=False)
    try:
        respondent = phone.new_page()
        respondent.goto(link)
        expect(respondent.locator("h1")).to_have_text("Emailed survey")
        with respondent.expect_navigation():
            respondent.click("text=Start now")
        answer_every_page(respondent)
        with respondent.expect_navigation():
            respondent.click("button:has-text('Send answers')")
        expect(respondent.locator(".govuk-panel__title")).to_have_text("Answers sent")
        respondent.goto(stop_link)
        with respondent.expect_navigation():
            respondent.click("button:has-text('Stop reminding me')")
        expect(respondent.locator(".govuk-panel__title")).to_have_text("You will not be reminded again")
    finally:
        phone.close()
    with app.extensions["db_sessionmaker"]() as session:
        stopped = session.scalars(select(Invitation.reminders_stopped_at)).all()
        used = session.scalars(select(Invitation.used_at)).all()
    assert sum(s is not None for s in stopped) == 1 and sum(u is not None for u in used) == 1
