"""Workshop service: stages, ideas, dots, moderation, paper votes, tallies and actions."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from codesign import service
from codesign.models import ActionStatus, ContributionChannel, Idea, Vote
from codesign.stages import ORDER, STAGES, next_stage, previous_stage
from core.outbox import OutboxMessage
from core.service import ServiceError


def test_stages_are_a_registry_in_order():
    assert ORDER == ("preparing", "review", "ideas", "cluster", "vote", "prioritise", "actions", "finished")
    assert all(STAGES[name].name == name for name in ORDER)
    assert next_stage("ideas") == "cluster" and next_stage("finished") is None
    assert previous_stage("review") is None and previous_stage("vote") == "cluster"


def test_opening_gives_an_unambiguous_code_and_starts_the_review(db_session, make_workshop):
    workshop = make_workshop(stage=None)
    assert workshop.stage == "preparing" and workshop.join_code is None
    code = service.open_workshop(db_session, workshop)
    assert len(code) == 6 and not set(code) & set("0O1IL")
    assert workshop.stage == "review"
    assert service.open_workshop(db_session, workshop) == code  # opening again keeps the code
    assert service.workshop_by_code(db_session, f" {code.lower()[:3]}-{code.lower()[3:]} ") == workshop


def test_every_stage_transition_moves_the_version(db_session, make_workshop):
    workshop = make_workshop()
    for stage in ORDER[2:]:
        before = workshop.version
        service.move_to(db_session, workshop, stage)
        assert workshop.stage == stage and workshop.version == before + 1
    for stage in reversed(ORDER[1:-1]):
        service.move_to(db_session, workshop, stage)
        assert workshop.stage == stage


def test_a_stage_must_exist_and_the_workshop_be_open(db_session, make_workshop):
    workshop = make_workshop()
    with pytest.raises(ServiceError):
        service.move_to(db_session, workshop, "dancing")
    with pytest.raises(ServiceError):
        service.move_to(db_session, workshop, "preparing")
    with pytest.raises(ServiceError):
        service.move_to(db_session, make_workshop(stage=None), "ideas")


def test_moving_on_unlocks_and_clears_the_timer(db_session, make_workshop):
    workshop = make_workshop(stage="ideas")
    service.set_locked(db_session, workshop, True)
    service.set_timer(db_session, workshop, 5)
    assert workshop.deadline_at is not None
    service.move_to(db_session, workshop, "cluster")
    assert not workshop.stage_locked and workshop.deadline_at is None


def test_ideas_only_in_the_ideas_stage_and_not_when_locked(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="review")
    me = join_as(workshop, sectors[0])
    with pytest.raises(ServiceError, match="not taking ideas"):
        service.add_idea(db_session, workshop, me, "Meet monthly", "k1")
    service.move_to(db_session, workshop, "ideas")
    service.set_locked(db_session, workshop, True)
    with pytest.raises(ServiceError, match="paused"):
        service.add_idea(db_session, workshop, me, "Meet monthly", "k1")
    service.set_locked(db_session, workshop, False)
    idea = service.add_idea(db_session, workshop, me, "Meet monthly", "k1")
    assert idea.channel == "in-room" and idea.participant_id == me.id


def test_the_same_idea_form_twice_stores_one_idea(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="ideas")
    me = join_as(workshop, sectors[0])
    first = service.add_idea(db_session, workshop, me, "Share the rota", "same-key")
    second = service.add_idea(db_session, workshop, me, "Share the rota", "same-key")
    assert first.id == second.id
    assert db_session.scalar(select(func.count()).select_from(Idea).where(Idea.workshop_id == workshop.id)) == 1


def test_another_participants_key_is_refused(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="ideas")
    me, other = join_as(workshop, sectors[0]), join_as(workshop, sectors[0])
    service.add_idea(db_session, workshop, me, "Share the rota", "my-key")
    with pytest.raises(ServiceError):
        service.add_idea(db_session, workshop, other, "Something else", "my-key")


def test_ideas_are_at_most_280_characters(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="ideas")
    me = join_as(workshop, sectors[0])
    with pytest.raises(ServiceError, match="280"):
        service.add_idea(db_session, workshop, me, "x" * 281, "k")
    assert service.add_idea(db_session, workshop, me, "x" * 280, "k").text == "x" * 280


def test_participants_remove_only_their_own_ideas(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="ideas")
    me, other = join_as(workshop, sectors[0]), join_as(workshop, sectors[1])
    mine = service.add_idea(db_session, workshop, me, "Mine", "a")
    theirs = service.add_idea(db_session, workshop, other, "Theirs", "b")
    with pytest.raises(ServiceError, match="own ideas"):
        service.delete_own_idea(db_session, workshop, me, theirs.id)
    service.delete_own_idea(db_session, workshop, me, mine.id)
    assert [i.text for i in service.all_ideas(db_session, workshop)] == ["Theirs"]


def _ideas(db_session, workshop, participant, *texts):
    stage = workshop.stage
    service.move_to(db_session, workshop, "ideas")
    ideas = [service.add_idea(db_session, workshop, participant, text, f"{workshop.id}-{text}") for text in texts]
    service.move_to(db_session, workshop, stage)
    return ideas


def test_dots_replace_the_last_choice_and_never_exceed_the_allowance(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="vote", dots=5)
    me = join_as(workshop, sectors[0])
    a, b = _ideas(db_session, workshop, me, "A", "B")
    service.set_dots(db_session, workshop, me, {a.id: 3, b.id: 2})
    service.set_dots(db_session, workshop, me, {a.id: 3, b.id: 2})  # a double click: the same dots
    assert service.dots_of(db_session, me) == {a.id: 3, b.id: 2}
    service.set_dots(db_session, workshop, me, {a.id: 1, b.id: 0})  # moving dots
    assert service.dots_of(db_session, me) == {a.id: 1}
    with pytest.raises(ServiceError, match="5 dots"):
        service.set_dots(db_session, workshop, me, {a.id: 4, b.id: 2})
    assert service.dots_of(db_session, me) == {a.id: 1}


def test_no_dots_on_hidden_ideas_or_outside_the_vote(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="vote")
    me = join_as(workshop, sectors[0])
    a, b = _ideas(db_session, workshop, me, "A", "B")
    service.set_hidden(db_session, workshop, b.id, True)
    with pytest.raises(ServiceError, match="no longer shown"):
        service.set_dots(db_session, workshop, me, {b.id: 1})
    service.move_to(db_session, workshop, "prioritise")
    with pytest.raises(ServiceError, match="not taking dots"):
        service.set_dots(db_session, workshop, me, {a.id: 1})


def test_hidden_ideas_leave_participant_lists_tallies_and_export(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="vote")
    me = join_as(workshop, sectors[0])
    kept, hidden = _ideas(db_session, workshop, me, "Kept", "Rude words")
    service.set_dots(db_session, workshop, me, {kept.id: 1, hidden.id: 1})
    service.set_hidden(db_session, workshop, hidden.id, True)
    assert [i.text for i in service.visible_ideas(db_session, workshop)] == ["Kept"]
    assert [t.idea.text for t in service.tallies(db_session, workshop).ideas] == ["Kept"]
    _, rows = service.export_rows(db_session, workshop)
    assert "Rude words" not in str(rows)
    assert len(service.all_ideas(db_session, workshop)) == 2  # the facilitator still sees it
    service.set_hidden(db_session, workshop, hidden.id, False)
    assert len(service.visible_ideas(db_session, workshop)) == 2


def test_tallies_pool_small_sectors_and_count_paper_votes(db_session, make_workshop, join_as, sectors):
    health, council, faith = sectors[0], sectors[1], sectors[2]
    workshop = make_workshop(stage="vote", dots=3)
    people = [join_as(workshop, health) for _ in range(3)] + [join_as(workshop, council) for _ in range(3)]
    people += [join_as(workshop, faith, ContributionChannel.REMOTE)]  # alone in their sector
    a, b = _ideas(db_session, workshop, people[0], "A", "B")
    for person in people[:3]:
        service.set_dots(db_session, workshop, person, {a.id: 2, b.id: 1})
    service.set_dots(db_session, workshop, people[3], {a.id: 3})
    service.set_dots(db_session, workshop, people[6], {b.id: 3})
    # Two faith-sector people on paper: 2 votes for A. Faith now has 3 people, so it stands alone.
    service.set_paper_counts(db_session, workshop, faith.id, 2, {a.id: 2})
    counted = service.tallies(db_session, workshop)
    assert counted.groups == sorted([health.name, council.name, faith.name])
    assert counted.group_sizes == {health.name: 3, council.name: 3, faith.name: 3}
    tally = {t.idea.text: t for t in counted.ideas}
    assert tally["A"].dots == 6 + 3 + 2
    assert tally["A"].supporters == {health.name: 3, council.name: 1, faith.name: 2}
    assert tally["A"].by_channel == {"In the room or remote": 9, "On paper": 2}  # one remote: pooled
    assert tally["A"].consensus == pytest.approx((4 / 5) * (2 / 5) * (3 / 5))
    assert tally["B"].consensus == pytest.approx((4 / 5) * (1 / 5) * (2 / 5))
    # Without the paper group, the lone faith participant is pooled with nobody but must not stand
    # alone: the next smallest sector joins "Other sectors".
    service.set_paper_counts(db_session, workshop, faith.id, 0, {})
    counted = service.tallies(db_session, workshop)
    assert service.OTHER_SECTORS in counted.groups and counted.group_sizes[service.OTHER_SECTORS] == 4


def test_paper_counts_replace_and_need_people(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="vote")
    a, = _ideas(db_session, workshop, join_as(workshop, sectors[0]), "A")
    with pytest.raises(ServiceError, match="how many people"):
        service.set_paper_counts(db_session, workshop, sectors[1].id, 0, {a.id: 3})
    service.set_paper_counts(db_session, workshop, sectors[1].id, 4, {a.id: 3})
    service.set_paper_counts(db_session, workshop, sectors[1].id, 4, {a.id: 3})
    assert service.paper_counts(db_session, workshop) == ({sectors[1].id: 4}, {(a.id, sectors[1].id): 3})


def test_clusters_assignment_and_priorities(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="cluster")
    a, b = _ideas(db_session, workshop, join_as(workshop, sectors[0]), "A", "B")
    group = service.add_cluster(db_session, workshop, "Meetings")
    db_session.flush()
    with pytest.raises(ServiceError, match="already"):
        service.add_cluster(db_session, workshop, "meetings")
    service.assign_ideas(db_session, workshop, {a.id: group.id, b.id: None})
    assert a.cluster_id == group.id and b.cluster_id is None
    service.rename_cluster(db_session, workshop, group.id, "Regular meetings")
    service.set_priorities(db_session, workshop, {group.id: (5, 2)})
    assert (group.name, group.impact, group.effort) == ("Regular meetings", 5, 2)
    with pytest.raises(ServiceError, match="1 to 5"):
        service.set_priorities(db_session, workshop, {group.id: (6, 2)})


def test_actions_owner_link_and_one_reminder_when_overdue(db_session, make_workshop, make_organisation, place,
                                                          construct):
    workshop = make_workshop(stage="actions")
    organisation = make_organisation(place=place)
    action = service.add_action(db_session, workshop, "Monthly meeting", organisation.id, "Sam Owner",
                                "sam@example.org", date.today() - timedelta(days=1), construct.id, None)
    db_session.flush()
    token = service.action_token("secret", action)
    assert service.action_by_token(db_session, "secret", token) == action
    assert service.action_by_token(db_session, "other secret", token) is None
    assert service.action_by_token(db_session, "secret", f"{action.id}-{'0' * 32}") is None
    queued = service.queue_overdue_reminders(db_session, date.today(), lambda a: f"https://x/{a.id}")
    assert queued == 1 and service.queue_overdue_reminders(db_session, date.today(), lambda a: "") == 0
    message = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "action-reminder")).one()
    assert message.to_address == "sam@example.org" and f"https://x/{action.id}" in message.body
    service.update_action(db_session, action, ActionStatus.DONE, "Held the first one", "Sam")
    assert action.status == "done" and action.updates[0].note == "Held the first one"


def test_an_action_needs_an_organisation_of_the_place(db_session, make_workshop, make_organisation, construct):
    workshop = make_workshop(stage="actions")
    elsewhere = make_organisation()
    with pytest.raises(ServiceError, match="organisation"):
        service.add_action(db_session, workshop, "X", elsewhere.id, "Sam", None, date.today(), construct.id, None)


def test_votes_table_refuses_non_positive_dots(db_session, make_workshop, join_as, sectors):
    workshop = make_workshop(stage="vote")
    me = join_as(workshop, sectors[0])
    a, = _ideas(db_session, workshop, me, "A")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(Vote(participant_id=me.id, idea_id=a.id, dots=0))
        db_session.flush()
