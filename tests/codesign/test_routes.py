"""Workshop pages: who may use them, a whole workshop from phones without JavaScript,
polling with ETag/304, moderation, paper votes, export and printouts."""

import csv
import io
import re
from datetime import date

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from codesign import service
from codesign.models import ActionStatus, Idea, Vote, Workshop
from core.models import Role
from tests.conftest import sign_in


def text_of(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ", strip=True)


def test_facilitators_run_only_their_places_workshops(app, db_session, make_user, make_workshop, make_place):
    workshop = make_workshop()
    elsewhere = make_user(Role.FACILITATOR, places=[make_place()])
    client = app.test_client()
    sign_in(client, elsewhere)
    assert client.get(f"/workshops/{workshop.id}").status_code == 403
    assert client.post(f"/workshops/{workshop.id}/stage", data={"stage": "ideas"}).status_code == 403
    assert workshop.title not in client.get("/workshops").get_data(as_text=True)


def test_coordinators_see_the_register_but_not_the_console(app, db_session, make_user, make_workshop, place):
    workshop = make_workshop()
    client = app.test_client()
    sign_in(client, make_user(Role.COORDINATOR, places=[place]))
    assert client.get(f"/workshops/{workshop.id}").status_code == 403
    assert client.get("/actions").status_code == 200


def test_create_a_workshop_then_open_it(app, client, db_session, facilitator, place):
    sign_in(client, facilitator)
    response = client.post("/workshops/new", data={
        "place": place.id, "title": "Keeping it going", "held_on": ["27", "3", "2027"], "dots": 4})
    assert response.status_code == 302
    workshop = db_session.scalar(select(Workshop).where(Workshop.title == "Keeping it going"))
    assert workshop.held_on == date(2027, 3, 27) and workshop.dots_per_participant == 4
    assert "write your own" in text_of(client.get(response.location))
    client.post(f"/workshops/{workshop.id}/prompts", data={"prompts": "How might we meet?\n\n  How might we share data?  "})
    assert [p.text for p in workshop.prompts] == ["How might we meet?", "How might we share data?"]
    client.post(f"/workshops/{workshop.id}/open")
    db_session.refresh(workshop)
    assert workshop.join_code and workshop.stage == "review"
    page = client.get(f"/workshops/{workshop.id}/screen").get_data(as_text=True)
    assert workshop.join_code in page and "<svg" in page


def test_create_refuses_a_missing_title_with_the_error_summary(client, facilitator, place):
    sign_in(client, facilitator)
    response = client.post("/workshops/new", data={"place": place.id, "title": " ", "held_on": ["", "", ""], "dots": 5})
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.title.get_text().startswith("Error: ")
    assert "Enter a title for the workshop" in page.select_one(".govuk-error-summary").get_text()


def test_prompts_are_proposed_from_public_results(app, client, db_session, facilitator, place, make_answered_survey):
    make_answered_survey(places=[place], per_sector=12, sector_count=3)
    sign_in(client, facilitator)
    response = client.post("/workshops/new", data={
        "place": place.id, "title": "From results", "held_on": ["1", "4", "2027"], "dots": 5})
    workshop = db_session.scalar(select(Workshop).where(Workshop.title == "From results"))
    assert workshop.current_wave is not None and workshop.reference_wave is not None
    page = text_of(client.get(response.location))
    assert f"{workshop.current_wave.label} against {workshop.reference_wave.label}" in page
    assert all(p.text.startswith("How might we") for p in workshop.prompts)
    # The review stage shows the comparison's tiles to the room.
    client.post(f"/workshops/{workshop.id}/open")
    assert "What the survey found" in text_of(client.get(f"/workshops/{workshop.id}"))


def test_a_whole_workshop_from_phones_without_javascript(app, client, db_session, facilitator, make_workshop, phone,
                                                          sectors, make_organisation, place, construct):
    workshop = make_workshop(stage="review", dots=3)
    sign_in(client, facilitator)
    code = workshop.join_code
    joining = app.test_client().get(f"/w/{code}")
    assert "not a confidential survey answer" in text_of(joining)
    phones = [phone(workshop, sectors[i % 3].id, name=f"P{i}") for i in range(9)]
    assert "Review the results" in text_of(phones[0].get(f"/w/{code}"))

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "ideas"})
    phones[0].post(f"/w/{code}/ideas", data={"text": "Keep the weekly call", "key": "k-1"})
    phones[0].post(f"/w/{code}/ideas", data={"text": "Keep the weekly call", "key": "k-1"})  # double click
    phones[1].post(f"/w/{code}/ideas", data={"text": "<script>alert(1)</script>", "key": "k-2"})
    phones[2].post(f"/w/{code}/ideas", data={"text": "Shared data dashboard", "key": "k-3"})
    assert db_session.scalar(select(func.count()).select_from(Idea).where(Idea.workshop_id == workshop.id)) == 3
    page = phones[3].get(f"/w/{code}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page

    ideas = {i.text: i for i in service.all_ideas(db_session, workshop)}
    client.post(f"/workshops/{workshop.id}/ideas/{ideas['<script>alert(1)</script>'].id}/visibility", data={"hide": "yes"})
    assert "alert(1)" not in phones[3].get(f"/w/{code}").get_data(as_text=True)

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "cluster"})
    client.post(f"/workshops/{workshop.id}/clusters", data={"name": "Staying in touch"})
    cluster = service.clusters_of(db_session, workshop)[0]
    call, dashboard = ideas["Keep the weekly call"], ideas["Shared data dashboard"]
    client.post(f"/workshops/{workshop.id}/cluster", data={f"idea_{call.id}": str(cluster.id), f"idea_{dashboard.id}": "none"})
    db_session.refresh(call)
    assert call.cluster_id == cluster.id

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "vote"})
    for device in phones:
        device.post(f"/w/{code}/dots", data={f"idea_{call.id}": "2", f"idea_{dashboard.id}": "1"})
    refused = phones[0].post(f"/w/{code}/dots", data={f"idea_{call.id}": "3", f"idea_{dashboard.id}": "1"})
    assert refused.status_code == 200 and "You have 3 dots" in text_of(refused)
    # The page comes back with the dots as they were chosen, each select labelled by its idea.
    kept = BeautifulSoup(refused.data, "html.parser")
    assert kept.select_one(f"select#idea_{call.id} option[selected]")["value"] == "3"
    assert kept.select_one(f"label[for=idea_{call.id}]").get_text(strip=True) == "Keep the weekly call"
    client.post(f"/workshops/{workshop.id}/paper", data={"sector": sectors[3].id, "people": 3,
                                                          f"idea_{call.id}": 0, f"idea_{dashboard.id}": 3})
    assert db_session.scalar(select(func.sum(Vote.dots)).where(Vote.idea_id == call.id)) == 18

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "prioritise"})
    client.post(f"/workshops/{workshop.id}/prioritise", data={f"impact_{cluster.id}": "5", f"effort_{cluster.id}": "2"})
    db_session.refresh(cluster)
    assert (cluster.impact, cluster.effort) == (5, 2)

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "actions"})
    organisation = make_organisation(place=place)
    response = client.post(f"/workshops/{workshop.id}/actions", data={
        "title": "Weekly call for every sector", "organisation": organisation.id, "owner_name": "Sam Owner",
        "owner_email": "sam@example.org", "due_on": ["1", "6", "2027"], "construct": construct.id,
        "cluster": cluster.id})
    assert response.status_code == 302

    results = text_of(client.get(f"/workshops/{workshop.id}/results"))
    assert "Other sectors (" not in results and "Consensus" in results
    exported = list(csv.reader(io.StringIO(client.get(f"/workshops/{workshop.id}/export.csv").get_data(as_text=True))))
    assert [row[2] for row in exported[1:]] == ["Keep the weekly call", "Shared data dashboard",
                                               "Weekly call for every sector"]
    assert "alert" not in str(exported)

    client.post(f"/workshops/{workshop.id}/stage", data={"stage": "finished"})
    summary = text_of(app.test_client().get(f"/w/{code}"))  # anyone with the link, no cookie
    assert "Keep the weekly call (18 dots)" in summary
    assert "Weekly call for every sector: " + organisation.name in summary and "Sam Owner" not in summary


def test_rejoining_on_the_same_phone_keeps_ideas_and_dots(app, db_session, make_workshop, phone, sectors):
    workshop = make_workshop(stage="ideas")
    device = phone(workshop, sectors[0].id)
    device.post(f"/w/{workshop.join_code}/ideas", data={"text": "Mine", "key": "mine"})
    again = device.post(f"/w/{workshop.join_code}/join", data={"sector": sectors[1].id, "channel": "remote"})
    assert again.status_code == 302
    assert "Yours" in text_of(device.get(f"/w/{workshop.join_code}"))


def test_a_participant_cannot_remove_anothers_idea(app, db_session, make_workshop, phone, sectors):
    workshop = make_workshop(stage="ideas")
    mine, other = phone(workshop, sectors[0].id), phone(workshop, sectors[0].id)
    other.post(f"/w/{workshop.join_code}/ideas", data={"text": "Theirs", "key": "theirs"})
    idea = db_session.scalar(select(Idea).where(Idea.idempotency_key == "theirs"))
    mine.post(f"/w/{workshop.join_code}/ideas/{idea.id}/remove")
    assert db_session.get(Idea, idea.id) is not None


def test_a_forged_cookie_is_not_a_participant(app, db_session, make_workshop):
    workshop = make_workshop(stage="ideas")
    client = app.test_client()
    client.set_cookie("holdfast_workshops", "eyJ4IjoxfQ.forged")
    assert "Join the workshop" in text_of(client.get(f"/w/{workshop.join_code}"))
    assert client.post(f"/w/{workshop.join_code}/ideas", data={"text": "x", "key": "x"}).status_code == 302


def test_polling_answers_304_until_something_changes(app, db_session, make_workshop):
    workshop = make_workshop(stage="review")
    client = app.test_client()
    first = client.get(f"/w/{workshop.join_code}/state")
    assert first.status_code == 200 and first.json["stage"] == "review"
    etag = first.headers["ETag"]
    unchanged = client.get(f"/w/{workshop.join_code}/state", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    service.move_to(db_session, workshop, "ideas")
    changed = client.get(f"/w/{workshop.join_code}/state", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["stage"] == "ideas"
    assert client.get("/w/NOPE23/state").status_code == 404


def test_join_by_code_is_forgiving_of_case_and_spaces(app, make_workshop):
    workshop = make_workshop()
    client = app.test_client()
    response = client.post("/join", data={"code": f" {workshop.join_code.lower()} "})
    assert response.status_code == 302 and response.location.endswith(f"/w/{workshop.join_code}")
    wrong = client.post("/join", data={"code": "ZZZZZZ"})
    assert "No workshop has that code" in text_of(wrong)


def test_wrong_codes_are_rate_limited_per_address(make_app, make_workshop):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    client = limited.test_client()
    answers = [client.post("/join", data={"code": f"WRONG{n}"}).status_code for n in range(12)]
    assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]


def test_participant_posts_are_limited_per_participant_not_per_address(make_app, make_workshop, sectors):
    workshop = make_workshop(stage="ideas")
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    first, second = limited.test_client(), limited.test_client()
    for device in (first, second):
        device.post(f"/w/{workshop.join_code}/join", data={"sector": sectors[0].id, "channel": "in-room"})
    answers = [first.post(f"/w/{workshop.join_code}/ideas", data={"text": f"Idea {n}", "key": f"f{n}"}).status_code
               for n in range(31)]
    assert answers[-1] == 429 and set(answers[:30]) == {302}
    # Same address, another phone: not limited.
    assert second.post(f"/w/{workshop.join_code}/ideas", data={"text": "Mine", "key": "s"}).status_code == 302


def test_the_lock_stops_ideas(app, client, db_session, facilitator, make_workshop, phone, sectors):
    workshop = make_workshop(stage="ideas")
    sign_in(client, facilitator)
    device = phone(workshop, sectors[0].id)
    client.post(f"/workshops/{workshop.id}/lock")
    assert "paused adding ideas" in text_of(device.get(f"/w/{workshop.join_code}"))
    response = device.post(f"/w/{workshop.join_code}/ideas", data={"text": "Late", "key": "late"})
    assert "paused ideas" in text_of(response)


def test_the_timer_shows_a_deadline(app, client, db_session, facilitator, make_workshop, phone, sectors):
    workshop = make_workshop(stage="ideas")
    sign_in(client, facilitator)
    client.post(f"/workshops/{workshop.id}/timer", data={"minutes": 10})
    page = phone(workshop, sectors[0].id).get(f"/w/{workshop.join_code}").get_data(as_text=True)
    assert re.search(r'data-deadline="[^"]+"', page) and "Time ends at" in page


def test_poster_and_vote_sheets_are_pdfs(app, client, facilitator, make_workshop):
    workshop = make_workshop(stage="vote")
    sign_in(client, facilitator)
    for name in ("poster.pdf", "vote-sheets.pdf"):
        response = client.get(f"/workshops/{workshop.id}/{name}")
        assert response.status_code == 200 and response.get_data().startswith(b"%PDF")


def test_the_owner_updates_their_action_without_an_account(app, db_session, make_workshop, make_organisation, place,
                                                          construct):
    workshop = make_workshop(stage="actions")
    action = service.add_action(db_session, workshop, "Monthly meeting", make_organisation(place=place).id, "Sam",
                                None, date(2027, 6, 1), construct.id, None)
    db_session.flush()
    token = service.action_token(app.config["SECRET_KEY"], action)
    client = app.test_client()
    assert client.get(f"/action-update/{token}").status_code == 200
    client.post(f"/action-update/{token}", data={"status": "in_progress", "note": "First one booked"})
    db_session.refresh(action)
    assert action.status == "in_progress" and action.updates[0].by == "Sam (owner)"
    assert client.get(f"/action-update/{action.id}-{'0' * 32}").status_code == 404


def test_the_register_marks_overdue_actions(app, client, db_session, make_user, make_workshop, make_organisation,
                                            place, construct):
    workshop = make_workshop(stage="actions")
    late = service.add_action(db_session, workshop, "Late thing", make_organisation(place=place).id, "Sam", None,
                              date(2020, 1, 1), construct.id, None)
    db_session.flush()
    service.update_action(db_session, late, ActionStatus.IN_PROGRESS, "Waiting for the venue", "Sam")
    sign_in(client, make_user(Role.COORDINATOR, places=[place]))
    page = text_of(client.get("/actions"))
    assert "Late thing" in page and "Overdue" in page and "No later wave yet" in page
    assert "In progress" in page and "Waiting for the venue" in page


def test_the_reminder_command_queues_each_overdue_action_once(app, db_session, make_workshop, make_organisation,
                                                              place, construct):
    from core.outbox import OutboxMessage

    workshop = make_workshop(stage="actions")
    action = service.add_action(db_session, workshop, "Late thing", make_organisation(place=place).id, "Sam",
                                "sam@example.org", date(2020, 1, 1), construct.id, None)
    db_session.flush()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["codesign", "send-reminders", "--base-url", "https://holdfast.example.org"])
    assert first.exit_code == 0 and "1 reminder queued" in first.output, first.output
    assert "0 reminders queued" in runner.invoke(
        args=["codesign", "send-reminders", "--base-url", "https://holdfast.example.org"]).output
    body = db_session.scalars(select(OutboxMessage.body).where(OutboxMessage.kind == "action-reminder")).one()
    token = service.action_token(app.config["SECRET_KEY"], action)
    assert f"https://holdfast.example.org/action-update/{token}" in body


def test_the_worker_reminds_owners_of_overdue_actions_on_its_own(make_app, db_session, make_workshop,
                                                                 make_organisation, place, construct):
    from core.outbox import OutboxMessage
    from tests.core.test_outbox import free_port

    workshop = make_workshop(stage="actions")
    action = service.add_action(db_session, workshop, "Late thing", make_organisation(place=place).id, "Sam",
                                "sam@example.org", date(2020, 1, 1), construct.id, None)
    db_session.flush()
    # A mail server nobody answers on: the reminder is queued, and stays queued to try again.
    worker_app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(free_port()), PUBLIC_URL="https://holdfast.example.org")
    result = worker_app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "1 overdue workshop actions reminded" in result.output, result.output
    body = db_session.scalars(select(OutboxMessage.body).where(OutboxMessage.kind == "action-reminder")).one()
    assert f"https://holdfast.example.org/action-update/{service.action_token(worker_app.config['SECRET_KEY'], action)}" in body
