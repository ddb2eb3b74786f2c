"""Keeping in touch with who was invited: the invitee list, new links, revoking,
reminders and their rules, "stop reminding me", and bare addresses with defaults."""

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import utcnow
from core.models import Role
from core.outbox import OutboxMessage
from core.service import hash_token
from surveys import invitations, respondent as journey, service
from surveys.models import Invitation, ReplacedLink
from tests.conftest import count, sign_in
from tests.surveys.test_service import complete_answers

LINK = "http://holdfast.test/s/{}".format
STOP = "http://holdfast.test/s/{}/stop-reminders".format


def invite(db_session, wave, lines: str, email: bool = False):
    parsed = invitations.parse_invitees(db_session, wave.survey.places, lines)
    assert parsed.errors == []
    return invitations.create_invitations(db_session, wave, parsed.invitees, "panel", "link-secret",
                                          email_link=LINK if email else None)


def remind(db_session, wave, now, on_demand=False, places=None):
    return invitations.send_reminders(db_session, wave, "link-secret", LINK, STOP, on_demand=on_demand, now=now,
                                      places=places)


@pytest.fixture
def wave(make_survey):
    return make_survey(open_first_wave=True).waves[0]


# --- reminder rules -----------------------------------------------------------------------


def test_reminders_follow_the_waves_rules(db_session, wave):
    links = invite(db_session, wave, "\n".join(f"p{n}@example.org,,Funder" for n in range(5)))
    answered, revoked, stopped = (link.invitation for link in links[:3])
    answered.used_at = utcnow()
    invitations.revoke(db_session, revoked, actor=None)
    invitations.stop_reminders(db_session, stopped)
    start = utcnow()

    assert remind(db_session, wave, start + timedelta(days=6)) == 0  # not yet 7 days
    assert remind(db_session, wave, start + timedelta(days=7, minutes=1)) == 2
    assert remind(db_session, wave, start + timedelta(days=8)) == 0  # 7 days from the last reminder
    assert remind(db_session, wave, start + timedelta(days=14, minutes=2)) == 2
    assert remind(db_session, wave, start + timedelta(days=30)) == 0  # at most 2 each
    reminders = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")))
    assert sorted({m.to_address for m in reminders}) == ["p3@example.org", "p4@example.org"] and len(reminders) == 4
    assert {i.reminders_sent for i in (links[3].invitation, links[4].invitation)} == {2}


def test_no_reminders_once_the_wave_is_closed_or_its_closing_time_has_passed(db_session, wave):
    invite(db_session, wave, "a@example.org,,Funder")
    later = utcnow() + timedelta(days=8)
    wave.closes_at = later - timedelta(hours=1)
    assert remind(db_session, wave, later) == 0
    wave.closes_at = None
    service.close_wave(db_session, wave, actor=None)
    assert remind(db_session, wave, later) == 0 and count(db_session, OutboxMessage) == 0


def test_a_reminder_carries_the_same_link_and_a_way_to_stop(db_session, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    assert remind(db_session, wave, utcnow() + timedelta(days=8)) == 1
    [message] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    assert LINK(link.token) in message.body and STOP(link.token) in message.body
    assert "not had your answers" in message.body and count(db_session, ReplacedLink) == 0


def test_a_link_that_cannot_be_derived_is_replaced_by_the_reminder(db_session, wave):
    """Links made before they were derived, or after the secret changed: the reminder
    carries a new link and the old one says it was replaced."""
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    link.invitation.token_nonce = None
    db_session.commit()
    remind(db_session, wave, utcnow() + timedelta(days=8))
    [message] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    new_token = re.search(r"/s/([\w-]+)\n", message.body).group(1)
    assert new_token != link.token and link.invitation.token_hash == hash_token(new_token)
    assert db_session.scalar(select(ReplacedLink.token_hash)) == hash_token(link.token)


def test_reminders_asked_for_by_hand_wait_a_day_after_the_last_message(db_session, wave):
    invite(db_session, wave, "a@example.org,,Funder\nb@example.org,,Funder")
    now = utcnow()
    assert invitations.reminders_due(db_session, wave, wave.survey.places, now) == 0
    assert remind(db_session, wave, now + timedelta(hours=2), on_demand=True) == 0
    assert invitations.reminders_due(db_session, wave, wave.survey.places, now + timedelta(days=1, minutes=1)) == 2
    assert remind(db_session, wave, now + timedelta(days=1, minutes=1), on_demand=True) == 2
    # Pressed again (a double click, or two coordinators): nobody is reminded twice.
    assert remind(db_session, wave, now + timedelta(days=1, minutes=2), on_demand=True) == 0
    [entry] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "reminders.queued"))
    assert entry.detail == f"Reminders to 2 people in {wave.label}" and "@" not in entry.detail


# --- new links and revoking ----------------------------------------------------------------


def test_a_new_link_replaces_the_old_one_and_keeps_saved_answers(db_session, client, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    draft = journey.draft_for_invitation(db_session, link.invitation)
    journey.save_draft(db_session, draft, complete_answers(wave), 1)
    token = invitations.reissue(db_session, link.invitation, "link-secret", None, actor=None)
    assert token != link.token
    replaced = client.get(f"/s/{link.token}")
    assert "This link was replaced" in replaced.get_data(as_text=True)
    page = client.get(f"/s/{token}")
    assert page.status_code == 200 and journey.draft_for_invitation(db_session, link.invitation).id == draft.id


def test_revoking_stops_the_link_and_any_queued_email(db_session, client, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder", email=True)
    assert count(db_session, OutboxMessage) == 1
    invitations.revoke(db_session, link.invitation, actor=None)
    assert count(db_session, OutboxMessage) == 0
    assert "This link no longer works" in client.get(f"/s/{link.token}").get_data(as_text=True)
    assert remind(db_session, wave, utcnow() + timedelta(days=8)) == 0
    with pytest.raises(invitations.ServiceError):
        invitations.reissue(db_session, link.invitation, "link-secret", None, actor=None)


# --- the pages ---------------------------------------------------------------------------


@pytest.fixture
def coordinator_client(client, make_user, wave):
    sign_in(client, make_user(Role.COORDINATOR, places=wave.survey.places))
    return client


def rows(page) -> list[list[str]]:
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    return [[cell.get_text(" ", strip=True) for cell in row.select("td")] for row in soup.select("tbody tr")]


def test_the_invitee_list_shows_progress_never_answers(db_session, coordinator_client, wave):
    links = invite(db_session, wave, "a@example.org,,Funder\nb@example.org,,Funder\nc@example.org,,Funder")
    journey.draft_for_invitation(db_session, links[1].invitation)
    links[2].invitation.used_at = utcnow()
    db_session.commit()
    table = rows(coordinator_client.get(f"/waves/{wave.id}/invitees"))
    assert [(row[0].split()[0] + row[0].split()[1], row[1]) for row in table] == [
        ("a@example.org", "Link given"), ("b@example.org", "Started"), ("c@example.org", "Answered")]
    assert "Funder" in table[0][0] and "New link" in table[0][3] and table[2][3] == ""


def test_giving_a_new_link_confirms_first_and_shows_the_link_once(db_session, coordinator_client, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    url = f"/waves/{wave.id}/invitees/{link.invitation.id}/reissue"
    before = link.invitation.token_hash
    confirm = coordinator_client.get(url)
    assert "Give a@example.org a new link?" in confirm.get_data(as_text=True)
    db_session.refresh(link.invitation)
    assert link.invitation.token_hash == before  # looking changes nothing
    shown = coordinator_client.post(url).get_data(as_text=True)
    db_session.refresh(link.invitation)
    new_link = re.search(r'value="(http://localhost/s/[\w-]+)"', shown).group(1)
    assert hash_token(new_link.rsplit("/", 1)[1]) == link.invitation.token_hash
    again = coordinator_client.get(f"/waves/{wave.id}/invitees").get_data(as_text=True)
    assert new_link not in again


def test_revoking_from_the_list(db_session, coordinator_client, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    url = f"/waves/{wave.id}/invitees/{link.invitation.id}/revoke"
    assert "Revoke the invitation for a@example.org?" in coordinator_client.get(url).get_data(as_text=True)
    assert coordinator_client.post(url).status_code == 302
    db_session.refresh(link.invitation)
    assert link.invitation.revoked_at is not None
    assert rows(coordinator_client.get(f"/waves/{wave.id}/invitees"))[0][1] == "Revoked"
    # Twice (the back button, a second tab): said plainly, nothing changes.
    again = coordinator_client.post(url, follow_redirects=True).get_data(as_text=True)
    assert "already revoked" in again


def test_an_invitation_in_another_place_is_not_found(db_session, client, make_user, make_place, make_survey):
    mine, theirs = make_place(), make_place()
    survey = make_survey(places=[mine, theirs], open_first_wave=True)
    wave = survey.waves[0]
    parsed = invitations.parse_invitees(db_session, [theirs], "a@example.org,,Funder")
    [link] = invitations.create_invitations(db_session, wave, parsed.invitees, "p", "link-secret")
    sign_in(client, make_user(Role.COORDINATOR, places=[mine]))
    assert client.get(f"/waves/{wave.id}/invitees/{link.invitation.id}/reissue").status_code == 404
    assert client.post(f"/waves/{wave.id}/invitees/{link.invitation.id}/revoke").status_code == 404
    assert rows(client.get(f"/waves/{wave.id}/invitees")) == []


def test_reminders_need_a_mail_server(db_session, coordinator_client, wave):
    invite(db_session, wave, "a@example.org,,Funder")
    page = coordinator_client.get(f"/waves/{wave.id}/reminders", follow_redirects=True).get_data(as_text=True)
    assert "no mail server is set up" in page
    assert count(db_session, OutboxMessage) == 0


def test_stop_reminding_me_changes_nothing_until_pressed(db_session, client, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    page = client.get(f"/s/{link.token}/stop-reminders")
    assert "Stop reminding me" in page.get_data(as_text=True)
    db_session.refresh(link.invitation)
    assert link.invitation.reminders_stopped_at is None
    done = client.post(f"/s/{link.token}/stop-reminders", follow_redirects=True)
    assert "You will not be reminded again" in done.get_data(as_text=True)
    db_session.refresh(link.invitation)
    assert link.invitation.reminders_stopped_at is not None
    assert client.get("/s/not-a-token/stop-reminders").status_code == 404


def test_stop_reminding_me_needs_its_csrf_token(make_app, db_session, wave):
    [link] = invite(db_session, wave, "a@example.org,,Funder")
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    page = BeautifulSoup(client.get(f"/s/{link.token}/stop-reminders").get_data(as_text=True), "html.parser")
    assert client.post(f"/s/{link.token}/stop-reminders").status_code in (200, 400)
    db_session.refresh(link.invitation)
    assert link.invitation.reminders_stopped_at is None
    token = page.select_one("input[name=csrf_token]")["value"]
    client.post(f"/s/{link.token}/stop-reminders", data={"csrf_token": token})
    db_session.refresh(link.invitation)
    assert link.invitation.reminders_stopped_at is not None


# --- inviting bare addresses --------------------------------------------------------------


def test_bare_addresses_take_the_chosen_organisation(db_session, coordinator_client, wave, make_organisation):
    organisation = make_organisation(place=wave.survey.places[0])
    page = coordinator_client.post(f"/waves/{wave.id}/invitations", data={
        "invitees": "a@example.org\nb@example.org,,Faith", "default_organisation": str(organisation.id),
        "default_sector": "0"})
    assert page.status_code == 200 and "2 invitation links created" in page.get_data(as_text=True)
    invited = {i.identity.email: i for i in db_session.scalars(select(Invitation).where(Invitation.wave_id == wave.id))}
    assert invited["a@example.org"].organisation_id == organisation.id
    # A sector on the line overrides the chosen organisation (and so its sector).
    assert invited["b@example.org"].organisation_id is None and invited["b@example.org"].sector.name == "Faith"


def test_the_invitation_form_lists_sectors_and_says_what_a_bare_address_needs(db_session, coordinator_client, wave):
    form = coordinator_client.get(f"/waves/{wave.id}/invitations").get_data(as_text=True)
    soup = BeautifulSoup(form, "html.parser")
    assert "Funder" in [o.get_text() for o in soup.select("select[name=default_sector] option")]
    refused = coordinator_client.post(f"/waves/{wave.id}/invitations", data={"invitees": "a@example.org"})
    assert "choose a default sector above" in refused.get_data(as_text=True)
    assert count(db_session, Invitation) == 0
