"""With a mail server configured, inviting people emails each their link through the
outbox; the test follows an emailed link to a sent response. Without one, nothing is queued."""

import re

from bs4 import BeautifulSoup
from sqlalchemy import select

from core import outbox
from core.models import Role
from core.outbox import MessageState, OutboxMessage
from surveys.models import Response
from tests.conftest import count, sign_in
from tests.core.test_outbox import settings, smtp  # noqa: F401 - the SMTP server fixture
from tests.surveys.test_routes import complete_journey


def invite(client, wave, lines: str):
    return client.post(f"/waves/{wave.id}/invitations", data={"invitees": lines})


def test_an_emailed_link_leads_to_a_sent_response(make_app, db_session, make_survey, make_user, smtp):  # noqa: F811
    mailing = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port), MAIL_SENDER="holdfast@example.org")
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    client = mailing.test_client()
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))
    page = invite(client, wave, "ana@example.org,,Funder\nbo@example.org,,Funder")
    assert page.status_code == 200 and "Each person is being emailed their link" in page.get_data(as_text=True)
    queued = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.wave_id == wave.id)))
    assert sorted(m.to_address for m in queued) == ["ana@example.org", "bo@example.org"]
    assert all(m.state == MessageState.QUEUED and m.kind == "invitation" for m in queued)

    assert outbox.run_once(db_session, settings(smtp.port)) == (2, 0)
    states = BeautifulSoup(client.get(f"/waves/{wave.id}/outbox").get_data(as_text=True), "html.parser")
    assert [tag.get_text(strip=True) for tag in states.select("td .govuk-tag")] == ["Sent", "Sent"]
    email = next(m for m in smtp.messages if m["To"] == "ana@example.org")
    assert email["Subject"] == f"Your invitation: {survey.name}"
    link = re.search(r"http://localhost(/s/[\w-]+)", email.get_payload()).group(1)
    # Sent: the single-use link is no longer kept in the outbox.
    assert all(m.body == outbox.SENT_BODY for m in db_session.scalars(select(OutboxMessage)))

    respondent = mailing.test_client()
    assert "Start now" in respondent.get(link).get_data(as_text=True)
    complete_journey(respondent, link)
    check = BeautifulSoup(respondent.get(f"{link}/check").get_data(as_text=True), "html.parser")
    before = count(db_session, Response)
    sent = respondent.post(f"{link}/check", data={"submission_key": check.select_one("input[name=submission_key]")["value"]})
    assert sent.location.endswith(f"{link}/done") and count(db_session, Response) == before + 1


def test_without_a_mail_server_nothing_is_queued(client, db_session, make_survey, make_user):
    survey = make_survey(open_first_wave=True)
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))
    page = invite(client, survey.waves[0], "ana@example.org,,Funder")
    assert page.status_code == 200 and "being emailed" not in page.get_data(as_text=True)
    assert count(db_session, OutboxMessage) == 0
    shown = BeautifulSoup(client.get(f"/waves/{survey.waves[0].id}/outbox").get_data(as_text=True), "html.parser")
    invitation, reminder = shown.select_one("#preview-invitation").get_text(), shown.select_one("#preview-reminder").get_text()
    assert f"invites you to answer {survey.name}" in invitation and "/s/example-link" in invitation
    assert "/s/example-link/stop-reminders" in reminder


def test_the_outbox_page_says_why_a_message_was_not_sent(make_app, db_session, make_survey, make_user, smtp):  # noqa: F811
    mailing = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port))
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    client = mailing.test_client()
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))
    invite(client, wave, "refused@example.org,,Funder")
    outbox.run_once(db_session, settings(smtp.port))
    page = client.get(f"/waves/{wave.id}/outbox").get_data(as_text=True)
    assert "Not sent" in page and "Gave up after 1 try" in page and "550 No such mailbox" in page
