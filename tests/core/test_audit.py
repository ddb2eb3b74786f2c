"""The audit log: one entry per change, in the change's own transaction, and who reads it."""

from datetime import datetime, timezone

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from core import audit
from core import service as core_service
from core.audit import AuditAction, AuditEntry
from core.audit_routes import london_time
from core.models import Place, Role, User
from surveys import importing
from surveys import invitations
from surveys import service as survey_service
from surveys.models import AnonymityMode, Survey
from tests.conftest import count, sign_in


def mark(session) -> int:
    return session.scalar(select(func.max(AuditEntry.id))) or 0


def since(session, last: int) -> list[AuditEntry]:
    """The entries written after `mark` returned `last`, oldest first."""
    return list(session.scalars(select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)))


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def rows(response) -> list[list[str]]:
    return [[cell.get_text(strip=True) for cell in row.select("td")] for row in soup(response).select("#audit-log tbody tr")]


@pytest.fixture
def place(make_place):
    return make_place()


@pytest.fixture
def coordinator(make_user, place):
    return make_user(Role.COORDINATOR, places=[place])


@pytest.fixture
def survey(make_survey, coordinator, place):
    return make_survey(places=[place])


def invite(db_session, wave, email="someone@example.org"):
    parsed = invitations.parse_invitees(db_session, wave.survey.places, f"{email},,Funder")
    return invitations.create_invitations(db_session, wave, parsed.invitees, "secret", "link-secret")


# --- each action writes exactly one entry ---------------------------------------------------------


def test_opening_and_closing_a_wave(db_session, survey, coordinator):
    wave = survey.waves[0]
    last = mark(db_session)
    survey_service.open_wave(db_session, wave, actor=coordinator)
    [opened] = since(db_session, last)
    assert (opened.action, opened.user_id, opened.user_email) == ("wave.opened", coordinator.id, coordinator.email)
    assert (opened.survey_id, opened.wave_id, opened.detail) == (survey.id, wave.id, "Wave 1 opened")

    last = mark(db_session)
    survey_service.close_wave(db_session, wave, actor=coordinator)
    [closed] = since(db_session, last)
    assert (closed.action, closed.user_id, closed.survey_id, closed.wave_id) == ("wave.closed", coordinator.id, survey.id, wave.id)
    assert closed.detail == "Wave 1 closed"


def test_a_refused_action_writes_nothing(db_session, survey, coordinator):
    last = mark(db_session)
    with pytest.raises(core_service.ServiceError):
        survey_service.close_wave(db_session, survey.waves[0], actor=coordinator)  # still a draft
    assert since(db_session, last) == []


def test_erasing_who_was_invited(db_session, survey, coordinator):
    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    invite(db_session, wave)
    survey_service.close_wave(db_session, wave, actor=coordinator)
    last = mark(db_session)
    invitations.erase_identities(db_session, wave, actor=coordinator)
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id, entry.survey_id, entry.wave_id) == ("invitees.erased", coordinator.id, survey.id, wave.id)
    assert entry.detail == "Who was invited to Wave 1 erased (1 email address)"
    assert entry.data == {"erased": 1}


@pytest.mark.parametrize("rows_in_file, shown", [(2, "Fewer than 5 responses"), (6, "6 responses")])
def test_importing_responses(db_session, survey, coordinator, rows_in_file, shown):
    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    record = importing.start_import(db_session, wave, coordinator, "other-tool.csv", ("sector,cs_1\n" + "Funder,4\n" * rows_in_file).encode())
    importing.save_columns(db_session, record, {"sector": "sector", "cs_1": "cs_1"})
    last = mark(db_session)
    importing.commit_import(db_session, record, survey.places, actor=coordinator)
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id, entry.survey_id, entry.wave_id) == ("responses.imported", coordinator.id, survey.id, wave.id)
    # A count the disclosure rules would withhold on the wave's page is withheld here too.
    assert entry.detail == f"{shown} imported into Wave 1 from other-tool.csv"
    assert entry.data == {"count": rows_in_file, "filename": "other-tool.csv", "import_id": record.id}

    importing.commit_import(db_session, record, survey.places, actor=coordinator)  # a replay imports nothing
    assert len(since(db_session, last)) == 1


@pytest.mark.both_backends
def test_settings_thresholds_and_margins(db_session, survey, coordinator):
    trust = next(m for m in survey.margins if m.construct.code == "trust")
    last = mark(db_session)
    survey_service.update_settings(
        db_session, survey, coordinator, AnonymityMode.PSEUDONYMOUS, 6, 10, 3, {trust.construct_id: 0.3}
    )
    anonymity, threshold, margin = since(db_session, last)
    assert all((e.user_id, e.survey_id, e.wave_id) == (coordinator.id, survey.id, None) for e in (anonymity, threshold, margin))
    assert (anonymity.action, anonymity.detail) == ("survey.settings_changed", "Anonymity changed from anonymous to pseudonymous")
    assert (threshold.action, threshold.detail) == (
        "threshold.changed", "Smallest group shown on pages and in exports raised from 5 to 6"
    )
    assert threshold.data == {"setting": "k_internal", "old": 5, "new": 6}
    assert (margin.action, margin.detail) == ("margin.changed", "Margin for Trust changed from 0.25 to 0.30")
    assert margin.data == {"construct": "trust", "old": 0.25, "new": 0.3, "after_opening": False}

    last = mark(db_session)
    survey_service.update_settings(
        db_session, survey, coordinator, AnonymityMode.PSEUDONYMOUS, 6, 10, 3, {trust.construct_id: 0.3}
    )
    assert since(db_session, last) == []  # saved unchanged: nothing to record


def test_a_late_margin_change_is_in_both_logs(db_session, survey, coordinator):
    trust = next(m for m in survey.margins if m.construct.code == "trust")
    survey_service.open_wave(db_session, survey.waves[0], actor=coordinator)
    last = mark(db_session)
    survey_service.update_settings(
        db_session, survey, coordinator, AnonymityMode.ANONYMOUS, 5, 10, 4, {trust.construct_id: 0.2}
    )
    threshold, margin = since(db_session, last)
    assert threshold.detail == "Fewest organisations behind any figure raised from 3 to 4"
    assert margin.detail == "Margin for Trust changed from 0.25 to 0.20" and margin.data["after_opening"]
    assert len(survey_service.margin_changes(db_session, survey)) == 1


def test_users_created_by_an_admin_and_from_the_command_line(db_session, make_user, place):
    admin = make_user(Role.ADMIN)
    last = mark(db_session)
    user, _ = core_service.invite_user(db_session, "New@Example.org", "New", Role.COORDINATOR, [place.id], actor=admin)
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id, entry.survey_id) == ("user.created", admin.id, None)
    assert entry.detail == f"new@example.org added as coordinator for {place.name}"
    assert entry.data == {"user_id": user.id, "role": "coordinator", "places": [place.name]}

    last = mark(db_session)
    core_service.create_user(db_session, "ops@example.org", "Ops", Role.ADMIN, password="a long passphrase", actor=None)
    [entry] = since(db_session, last)
    assert (entry.user_id, entry.user_email, entry.detail) == (None, None, "ops@example.org added as admin")


def test_role_places_and_deactivation(db_session, make_user, make_place, coordinator, place):
    admin = make_user(Role.ADMIN)
    other = make_place("Aardvale")

    last = mark(db_session)
    core_service.update_user(db_session, admin, coordinator, Role.COORDINATOR, [place.id, other.id], True)
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id) == ("user.places_changed", admin.id)
    assert entry.detail == f"{coordinator.email}: places changed from {place.name} to Aardvale, {place.name}"

    # Becoming an evaluator clears the places: the role change says all there is to say.
    last = mark(db_session)
    core_service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [], True)
    [entry] = since(db_session, last)
    assert (entry.action, entry.detail) == ("user.role_changed", f"{coordinator.email}: role changed from coordinator to evaluator")
    assert entry.data == {"user_id": coordinator.id, "old": "coordinator", "new": "evaluator"}

    last = mark(db_session)
    core_service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [], False)
    core_service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [], True)
    deactivated, reactivated = since(db_session, last)
    assert (deactivated.action, deactivated.detail) == ("user.deactivated", f"{coordinator.email} deactivated")
    assert (reactivated.action, reactivated.detail) == ("user.reactivated", f"{coordinator.email} reactivated")

    last = mark(db_session)
    core_service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [], True)
    assert since(db_session, last) == []


# --- the same transaction as the change ------------------------------------------------------------


def test_the_entry_is_lost_with_its_failed_transaction(db_session, survey, coordinator):
    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    entries_before = count(db_session, AuditEntry)
    db_session.add(Place(name=None))  # something else in the same transaction fails as it commits
    with pytest.raises(IntegrityError):
        survey_service.close_wave(db_session, wave, actor=coordinator)
    db_session.rollback()
    db_session.refresh(wave)
    assert wave.status == "open"
    assert count(db_session, AuditEntry) == entries_before


def test_record_never_writes_on_its_own(db_session, survey, coordinator):
    entries_before = count(db_session, AuditEntry)
    audit.record(db_session, coordinator, AuditAction.WAVE_CLOSED, wave=survey.waves[0], detail="Not kept")
    db_session.rollback()
    assert count(db_session, AuditEntry) == entries_before


def test_only_the_fixed_vocabulary(db_session, coordinator):
    with pytest.raises(ValueError):
        audit.record(db_session, coordinator, "wave.deleted", detail="Not a known action")


def test_the_record_outlives_the_user_and_the_survey(db_session, survey, coordinator):
    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    [entry] = db_session.scalars(select(AuditEntry).where(AuditEntry.wave_id == wave.id))
    email = coordinator.email
    coordinator.email = "renamed@example.org"
    db_session.flush()
    db_session.execute(delete(User).where(User.id == coordinator.id))
    db_session.execute(delete(Survey).where(Survey.id == survey.id))
    db_session.expire_all()
    assert (entry.user_id, entry.survey_id, entry.wave_id) == (None, None, None)
    assert (entry.user_email, entry.detail) == (email, "Wave 1 opened")


# --- the pages --------------------------------------------------------------------------------------


def test_the_survey_log_newest_first(client, db_session, login, survey, coordinator):
    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    survey_service.close_wave(db_session, wave, actor=None)
    login(coordinator)
    response = client.get(f"/surveys/{survey.id}/audit")
    assert response.status_code == 200
    [closed, opened] = rows(response)
    assert closed[1:] == ["System", "Wave 1 closed"]
    assert opened[1:] == [coordinator.email, "Wave 1 opened"]
    assert soup(response).select_one("h1").get_text(strip=True) == "Audit log"
    # The survey's page links to its log.
    assert soup(client.get(f"/surveys/{survey.id}")).select_one(f"a[href='/surveys/{survey.id}/audit']")


def test_who_reads_a_survey_log(app, db_session, make_user, make_place, survey, place):
    # Evaluators read every survey, read-only: its log is part of that record.
    allowed = {
        Role.ADMIN: make_user(Role.ADMIN),
        Role.COORDINATOR: make_user(Role.COORDINATOR, places=[place]),
        Role.EVALUATOR: make_user(Role.EVALUATOR),
    }
    refused = [make_user(Role.COORDINATOR, places=[make_place()]), make_user(Role.FACILITATOR, places=[place])]
    path = f"/surveys/{survey.id}/audit"
    for user in allowed.values():
        assert _get_as(app, user, path).status_code == 200, user.role
    for user in refused:
        assert _get_as(app, user, path).status_code == 403, user.role
    response = app.test_client().get(path)
    assert response.status_code == 302 and response.location.startswith("/sign-in")


def test_only_admins_read_everything(app, db_session, make_user, coordinator, place):
    for role in (Role.COORDINATOR, Role.FACILITATOR, Role.EVALUATOR):
        assert _get_as(app, make_user(role, places=[place]), "/admin/audit").status_code == 403
    admin = make_user(Role.ADMIN)
    core_service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [], True)
    response = _get_as(app, admin, "/admin/audit")
    assert response.status_code == 200
    assert rows(response)[0][1:] == [admin.email, "", f"{coordinator.email}: role changed from coordinator to evaluator"]
    assert "Audit log" in [a.get_text(strip=True) for a in soup(response).select(".govuk-service-navigation a")]


def _get_as(app, user, path):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client.get(path)


def test_the_admin_log_names_each_survey(client, db_session, login, make_user, survey, coordinator):
    survey_service.open_wave(db_session, survey.waves[0], actor=coordinator)
    login(make_user(Role.ADMIN))
    response = client.get("/admin/audit")
    link = soup(response).select_one(f"#audit-log a[href='/surveys/{survey.id}/audit']")
    assert link.get_text(strip=True) == survey.name


def test_hostile_text_is_escaped(client, db_session, login, survey, coordinator):
    wave = survey.waves[0]
    wave.label = '<script>alert("wave")</script>'
    db_session.flush()
    survey_service.open_wave(db_session, wave, actor=coordinator)
    login(coordinator)
    html = client.get(f"/surveys/{survey.id}/audit").get_data(as_text=True)
    assert '<script>alert("wave")</script>' not in html
    assert "&lt;script&gt;alert(&#34;wave&#34;)&lt;/script&gt; opened" in html


def test_fifty_a_page(client, db_session, login, survey, coordinator):
    for number in range(120):
        audit.record(db_session, None, AuditAction.WAVE_CLOSED, survey=survey, detail=f"Entry {number}")
    db_session.flush()
    login(coordinator)
    first = client.get(f"/surveys/{survey.id}/audit")
    assert len(rows(first)) == 50 and rows(first)[0][2] == "Entry 119"
    assert "Changes 1 to 50 of 120" in soup(first).select_one("caption").get_text(" ", strip=True)
    assert soup(first).select_one(".govuk-pagination__next a")["href"] == f"/surveys/{survey.id}/audit?page=2"
    last = client.get(f"/surveys/{survey.id}/audit?page=3")
    assert len(rows(last)) == 20 and rows(last)[-1][2] == "Entry 0"
    assert soup(last).select_one(".govuk-pagination__next") is None
    assert client.get(f"/surveys/{survey.id}/audit?page=4").status_code == 404
    assert client.get(f"/surveys/{survey.id}/audit?page=0").status_code == 404


def test_an_empty_log(client, login, survey, coordinator):
    login(coordinator)
    response = client.get(f"/surveys/{survey.id}/audit")
    assert "Nothing has been recorded yet." in response.get_data(as_text=True)
    assert soup(response).select_one(".govuk-pagination") is None


@pytest.mark.parametrize("moment, shown", [
    (datetime(2026, 7, 1, 13, 5), "1 July 2026, 2:05pm BST"),
    (datetime(2026, 1, 15, 12, 0), "15 January 2026, midday GMT"),
    (datetime(2026, 1, 15, 0, 0, 30), "15 January 2026, midnight GMT"),
    # The hour the clocks go back happens twice; the zone tells them apart.
    (datetime(2026, 10, 25, 0, 30), "25 October 2026, 1:30am BST"),
    (datetime(2026, 10, 25, 1, 30), "25 October 2026, 1:30am GMT"),
])
def test_times_are_shown_in_the_uk(moment, shown):
    assert london_time(moment.replace(tzinfo=timezone.utc)) == shown


# --- the views pass who is signed in ------------------------------------------------------------------


def test_wave_actions_record_the_signed_in_coordinator(client, db_session, login, survey, coordinator):
    login(coordinator)
    wave = survey.waves[0]
    last = mark(db_session)
    assert client.post(f"/waves/{wave.id}/open").status_code == 302
    assert client.post(f"/waves/{wave.id}/invitations", data={"invitees": "r@example.org,,Funder"}).status_code == 200
    assert client.post(f"/waves/{wave.id}/close").status_code == 302
    assert client.post(f"/waves/{wave.id}/erase-identities").status_code == 302
    entries = since(db_session, last)
    assert [e.action for e in entries] == ["wave.opened", "invitations.created", "wave.closed", "invitees.erased"]
    assert entries[1].detail == f"1 person invited to {wave.label} (links shown to copy)"
    assert {e.user_id for e in entries} == {coordinator.id}


def test_settings_and_imports_record_the_signed_in_coordinator(client, db_session, login, survey, coordinator):
    login(coordinator)
    margins = {f"margin_{m.construct_id}": "0.25" for m in survey.margins}
    last = mark(db_session)
    client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": "anonymous", "k_internal": "7", "k_briefing": "10", "min_organisations": "3", "offer_dont_know": "y", **margins,
    })
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id) == ("threshold.changed", coordinator.id)

    wave = survey.waves[0]
    survey_service.open_wave(db_session, wave, actor=coordinator)
    record = importing.start_import(db_session, wave, coordinator, "f.csv", b"sector,cs_1\nFunder,4\n")
    importing.save_columns(db_session, record, {"sector": "sector", "cs_1": "cs_1"})
    last = mark(db_session)
    assert client.post(f"/imports/{record.id}/preview").status_code == 302
    [entry] = since(db_session, last)
    assert (entry.action, entry.user_id) == ("responses.imported", coordinator.id)


def test_user_changes_record_the_signed_in_admin(client, db_session, login, make_user, place):
    admin = make_user(Role.ADMIN)
    login(admin)
    last = mark(db_session)
    client.post("/admin/users/invite", data={"name": "Nia", "email": "nia@example.org", "role": "evaluator"})
    nia = db_session.scalar(select(User).where(User.email == "nia@example.org"))
    client.post(f"/admin/users/{nia.id}", data={"role": "facilitator", "places": [place.id], "active": "y"})
    entries = since(db_session, last)
    assert [e.action for e in entries] == ["user.created", "user.role_changed", "user.places_changed"]
    assert {e.user_id for e in entries} == {admin.id}
