"""What a workshop gives away about the people in it: nobody's dots are shown alone in
the tally by channel, a join code cannot be guessed through any of the pages that answer
for one, and a finished workshop's page names owners' organisations, not the owners, to
anyone without an account."""

import csv
import io
import uuid
from datetime import date

import pytest
from bs4 import BeautifulSoup

from codesign import service
from codesign.models import ContributionChannel
from tests.conftest import sign_in

IN_ROOM, REMOTE, PAPER = (c.label for c in ContributionChannel)


def text_of(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ", strip=True)


# --- the tally by channel ----------------------------------------------------------------


@pytest.fixture
def lone_remote_vote(db_session, make_workshop, join_as, sectors):
    """Five people in the room and one remote participant, who puts all 5 dots on one idea."""
    workshop = make_workshop(stage="vote")
    room = [join_as(workshop, sectors[n % 2]) for n in range(5)]
    remote = join_as(workshop, sectors[2], ContributionChannel.REMOTE)
    chosen = service.add_idea(db_session, workshop, room[0], "Chosen", uuid.uuid4().hex, paper=True)
    other = service.add_idea(db_session, workshop, room[0], "Other", uuid.uuid4().hex, paper=True)
    for person in room:
        service.set_dots(db_session, workshop, person, {other.id: 1})
    service.set_dots(db_session, workshop, remote, {chosen.id: 5})
    db_session.flush()
    return workshop


def test_a_lone_remote_participants_dots_are_not_shown_alone(db_session, lone_remote_vote):
    counted = service.tallies(db_session, lone_remote_vote)
    assert counted.channels == [f"{IN_ROOM} or remote"]
    tally = {t.idea.text: t for t in counted.ideas}
    assert tally["Chosen"].by_channel == {f"{IN_ROOM} or remote": 5}
    assert tally["Other"].by_channel == {f"{IN_ROOM} or remote": 5}


def test_the_results_page_and_the_export_pool_the_lone_remote_participant(app, db_session, facilitator,
                                                                           lone_remote_vote):
    client = app.test_client()
    sign_in(client, facilitator)
    page = BeautifulSoup(client.get(f"/workshops/{lone_remote_vote.id}/results").data, "html.parser")
    by_channel = page.select("table")[-1]
    headings = [th.get_text(strip=True) for th in by_channel.select("thead th")]
    assert headings == ["Idea", f"{IN_ROOM} or remote (6 people)"]
    exported = list(csv.reader(io.StringIO(
        client.get(f"/workshops/{lone_remote_vote.id}/export.csv").get_data(as_text=True))))
    assert f"dots: {IN_ROOM} or remote" in exported[0]
    assert not {"dots: remote", f"dots: {REMOTE}"} & set(exported[0])


def test_channels_with_3_people_each_stand_alone_and_paper_is_shown_as_entered(db_session, make_workshop,
                                                                              join_as, sectors):
    workshop = make_workshop(stage="vote")
    room = [join_as(workshop, sectors[0]) for _ in range(3)]
    remote = [join_as(workshop, sectors[1], ContributionChannel.REMOTE) for _ in range(3)]
    idea = service.add_idea(db_session, workshop, None, "Idea", uuid.uuid4().hex, paper=True)
    for person in room + remote[:1]:
        service.set_dots(db_session, workshop, person, {idea.id: 2})
    # Paper votes are the facilitator's own count, already on the paper page: never pooled.
    service.set_paper_counts(db_session, workshop, sectors[2].id, 1, {idea.id: 4})
    counted = service.tallies(db_session, workshop)
    assert counted.channels == [IN_ROOM, REMOTE, PAPER]
    assert counted.ideas[0].by_channel == {IN_ROOM: 6, REMOTE: 2, PAPER: 4}
    assert counted.channel_sizes == {IN_ROOM: 3, REMOTE: 3, PAPER: 1}


# --- guessing join codes -----------------------------------------------------------------


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def limited_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                   RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4()}")
    return app, client_at(app, "10.0.0.1")


def wrong_code(n: int) -> str:
    return f"ZZZZ{n:02d}"[-6:]


CODE_PAGES = [
    ("GET", "/w/{code}"),
    ("GET", "/w/{code}/state"),
    ("POST", "/w/{code}/join"),
    ("POST", "/w/{code}/ideas"),
    ("POST", "/w/{code}/dots"),
    ("POST", "/w/{code}/ideas/1/remove"),
]


@pytest.mark.parametrize("method, page", CODE_PAGES)
def test_every_page_that_answers_for_a_code_stops_guessing_per_address(make_app, make_workshop, sectors,
                                                                       method, page):
    workshop = make_workshop(stage="ideas")
    app, guesser = limited_client(make_app)
    answers = [guesser.open(page.format(code=wrong_code(n)), method=method).status_code for n in range(12)]
    assert answers == [404] * 10 + [429] * 2
    # The right code is refused too, or the refusals would say which code is right.
    assert guesser.open(page.format(code=workshop.join_code), method=method).status_code == 429
    assert guesser.post("/join", data={"code": workshop.join_code}).status_code == 429
    # Another address is not affected.
    other = client_at(app, "10.0.0.2")
    assert other.get(f"/w/{workshop.join_code}").status_code == 200


def test_wrong_codes_count_together_on_every_page_and_on_join(make_app, make_workshop):
    make_workshop(stage="ideas")
    _, guesser = limited_client(make_app)
    for n in range(5):
        assert guesser.get(f"/w/{wrong_code(n)}/state").status_code == 404
        assert guesser.post("/join", data={"code": wrong_code(50 + n)}).status_code == 200
    assert guesser.get(f"/w/{wrong_code(99)}").status_code == 429


def test_phones_that_joined_keep_working_when_their_address_is_stopped(make_app, make_workshop, sectors):
    """A venue's phones share one address: a few mistyped codes there must not stop the room."""
    workshop = make_workshop(stage="ideas")
    app, joined = limited_client(make_app)
    code = workshop.join_code
    assert joined.post(f"/w/{code}/join", data={"sector": sectors[0].id, "channel": "in-room"}).status_code == 302
    typist = client_at(app, "10.0.0.1")
    for n in range(11):
        typist.get(f"/w/{wrong_code(n)}")
    assert typist.get(f"/w/{code}").status_code == 429
    assert joined.get(f"/w/{code}").status_code == 200
    assert joined.get(f"/w/{code}/state").status_code == 200
    assert joined.post(f"/w/{code}/ideas", data={"text": "Still here", "key": uuid.uuid4().hex}).status_code == 302


def test_right_codes_never_count(make_app, make_workshop):
    workshop = make_workshop(stage="review")
    _, phone = limited_client(make_app)
    for _ in range(30):
        assert phone.get(f"/w/{workshop.join_code}/state").status_code == 200
    assert phone.get(f"/w/{workshop.join_code}").status_code == 200


# --- a finished workshop's page ------------------------------------------------------------


@pytest.fixture
def finished_with_an_action(db_session, make_workshop, make_organisation, place, construct):
    workshop = make_workshop(stage="actions")
    organisation = make_organisation(name="Brackenford Food Bank", place=place)
    service.add_action(db_session, workshop, "Weekly call for every sector", organisation.id, "Sam Owner",
                       "sam@example.org", date(2027, 6, 1), construct.id, None)
    service.move_to(db_session, workshop, "finished")
    db_session.flush()
    return workshop


def test_a_finished_workshop_names_organisations_not_owners_to_anyone_without_an_account(
        app, finished_with_an_action):
    stranger = text_of(app.test_client().get(f"/w/{finished_with_an_action.join_code}"))
    assert "Weekly call for every sector: Brackenford Food Bank, by 1 June 2027" in stranger
    assert "Sam Owner" not in stranger


def test_participants_see_organisations_not_owners_while_actions_are_agreed(app, db_session, make_workshop,
                                                                           make_organisation, place, construct,
                                                                           phone, sectors):
    workshop = make_workshop(stage="actions")
    device = phone(workshop, sectors[0].id)
    organisation = make_organisation(name="Eastholme Council", place=place)
    service.add_action(db_session, workshop, "Share the data", organisation.id, "Alex Owner", None,
                       date(2027, 6, 1), construct.id, None)
    db_session.flush()
    page = text_of(device.get(f"/w/{workshop.join_code}"))
    assert "Share the data: Eastholme Council" in page and "Alex Owner" not in page
    # The next workshop in the place reviews it without the owner's name too.
    later = make_workshop(stage="review")
    review = text_of(phone(later, sectors[0].id).get(f"/w/{later.join_code}"))
    assert "Share the data: Eastholme Council" in review and "Alex Owner" not in review


def test_people_with_an_account_still_see_owners_names(app, finished_with_an_action, facilitator):
    client = app.test_client()
    sign_in(client, facilitator)
    page = text_of(client.get(f"/w/{finished_with_an_action.join_code}"))
    assert "Weekly call for every sector: Sam Owner, Brackenford Food Bank" in page
