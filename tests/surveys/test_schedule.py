"""A wave's timetable: set on its page, kept by the worker (opening, closing, reminders,
erasing), and results held back until people part-way through have had their grace period."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import utcnow
from core.models import Role
from core.outbox import OutboxMessage
from core.service import ServiceError
from surveys import invitations, schedule, service
from surveys.models import WaveStatus
from tests.conftest import count, sign_in

LINK = "http://holdfast.test/s/{}".format
STOP = "http://holdfast.test/s/{}/stop-reminders".format


def choices(**overrides) -> schedule.ScheduleChoices:
    values = dict(opens_at=None, closes_at=None, grace_minutes=60, reminders_automatic=False,
                  reminder_delay_days=7, reminder_limit=2, erase_after_days=30)
    return schedule.ScheduleChoices(**(values | overrides))


def run(db_session, now, mail=True):
    return schedule.run_due(db_session, "link-secret", LINK if mail else None, STOP if mail else None, now=now)


def test_uk_times_are_read_and_shown_in_uk_time():
    summer = schedule.parse_uk_time("1/7/2027 09:00", "opens_at")
    assert (summer.hour, summer.tzinfo is not None) == (8, True)  # BST is UTC+1
    assert schedule.uk_time_text(summer) == "1/7/2027 09:00"
    assert schedule.parse_uk_time("31/12/2027", "closes_at", end_of_day=True).hour == 23
    with pytest.raises(ServiceError, match="like 31/3/2027 17:00"):
        schedule.parse_uk_time("next Tuesday", "opens_at")


def test_a_schedule_must_make_sense(db_session, make_survey):
    wave = make_survey().waves[0]
    now = utcnow()
    with pytest.raises(ServiceError, match="in the future"):
        schedule.set_schedule(db_session, wave, choices(opens_at=now - timedelta(hours=1)), actor=None)
    with pytest.raises(ServiceError, match="after the opening time"):
        schedule.set_schedule(db_session, wave, choices(opens_at=now + timedelta(days=2),
                                                        closes_at=now + timedelta(days=1)), actor=None)
    schedule.set_schedule(db_session, wave, choices(opens_at=now + timedelta(days=1),
                                                    closes_at=now + timedelta(days=10)), actor=None)
    [entry] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "wave.scheduled"))
    assert entry.detail.startswith(f"Schedule of {wave.label}: opens at none → ")


@pytest.mark.both_backends
def test_the_worker_opens_reminds_closes_and_erases_on_time(db_session, make_survey):
    survey = make_survey()
    wave = survey.waves[0]
    start = utcnow() + timedelta(hours=1)
    schedule.set_schedule(db_session, wave, choices(
        opens_at=start, closes_at=start + timedelta(days=20), reminders_automatic=True), actor=None)

    assert run(db_session, start - timedelta(minutes=1)) == schedule.Pass()
    assert run(db_session, start + timedelta(seconds=5)).opened == 1
    assert wave.status == WaveStatus.OPEN and wave.opens_at == start
    parsed = invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder")
    invitations.create_invitations(db_session, wave, parsed.invitees, "p", "link-secret")
    for link in db_session.scalars(select(invitations.Invitation)):
        link.created_at = start
    db_session.commit()

    assert run(db_session, start + timedelta(days=7, minutes=1)).reminded == 1
    assert run(db_session, start + timedelta(days=7, minutes=2)).reminded == 0  # the next pass: nothing more
    closed = run(db_session, start + timedelta(days=20, seconds=5))
    assert closed.closed == 1 and wave.status == WaveStatus.CLOSED and wave.closes_at == start + timedelta(days=20)
    assert run(db_session, start + timedelta(days=49)).erased == 0
    assert run(db_session, start + timedelta(days=50, seconds=5)).erased == 1
    assert invitations.invited_emails(db_session, wave) == set() and count(db_session, OutboxMessage) == 0
    actions = [e.action for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-5:] == ["wave.opened", "invitations.created", "reminders.queued", "wave.closed", "invitees.erased"]


def test_without_mail_the_worker_sends_no_reminders(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    wave.reminders_automatic = True
    parsed = invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder")
    invitations.create_invitations(db_session, wave, parsed.invitees, "p", "link-secret")
    assert run(db_session, utcnow() + timedelta(days=8), mail=False).reminded == 0
    assert count(db_session, OutboxMessage) == 0


def test_a_wave_that_cannot_open_on_time_says_why_in_the_log(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    draft = service.clone_wave(db_session, survey, "Wave 2", service.WaveRole.FOLLOW_UP)
    draft.opens_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    assert run(db_session, utcnow()).opened == 0
    assert draft.status == WaveStatus.DRAFT and draft.opens_at is None
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.detail == "Wave 2 did not open at its set time: Close the open wave before opening another"


def test_results_wait_for_the_grace_period(db_session, client, make_user, make_answered_survey):
    survey = make_answered_survey()
    latest = survey.waves[-1]
    sign_in(client, make_user(Role.EVALUATOR))
    option = f"{latest.label} ({latest.role})"
    assert option in client.get(f"/analysis/surveys/{survey.id}").get_data(as_text=True)
    latest.closes_at, latest.grace_minutes = utcnow() - timedelta(minutes=30), 60  # closed half an hour ago
    db_session.commit()
    assert option not in client.get(f"/analysis/surveys/{survey.id}").get_data(as_text=True)
    assert latest.results_ready(utcnow() + timedelta(minutes=31))


def test_the_schedule_page_saves_and_refuses_nonsense(db_session, client, make_user, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))
    form = {"closes_at": "yesterday", "grace_minutes": "60", "reminder_delay_days": "7", "reminder_limit": "2",
            "erase_after_days": "30"}
    refused = client.post(f"/waves/{wave.id}/schedule", data=form).get_data(as_text=True)
    assert "Error: Schedule for" in refused and "Enter a date and time like 31/3/2027 17:00" in refused
    closing = utcnow() + timedelta(days=5)
    saved = client.post(f"/waves/{wave.id}/schedule", data=form | {
        "closes_at": schedule.uk_time_text(closing), "reminders_automatic": "y"})
    assert saved.status_code == 302
    db_session.refresh(wave)
    assert wave.reminders_automatic and abs(wave.closes_at - closing) < timedelta(minutes=1)
    assert "Closes" in client.get(f"/waves/{wave.id}").get_data(as_text=True)


def test_the_wave_page_says_whether_dont_know_is_offered(db_session, client, make_user, make_survey):
    survey = make_survey(open_first_wave=True)
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))
    page = client.get(f"/waves/{survey.waves[0].id}").get_data(as_text=True)
    assert "Offered on agreement questions (fixed when the wave opened)" in page
