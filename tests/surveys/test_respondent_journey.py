"""The respondent journey (issues 13 and 11): the sectors the trust matrix asks about and
how many pages the default survey takes, "Don't know", clearing an answer, errors that
name their question, check your answers, the privacy notice, closing dates, the grace
period, and replaced or withdrawn links."""

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select

from app import create_app
from core.cli import upgrade_database
from core.db import utcnow
from core.demo import load_demo_data
from core.models import Sector
from core.service import hash_token
from surveys import invitations, respondent, service
from surveys.models import Answer, Draft, ReplacedLink, Response, WaveStatus
from surveys.question_types import DONT_KNOW
from tests.conftest import base_test_config, count, statements_during

ACTIVE = ["Voluntary and community", "Local authority", "Health and care", "Funder", "Faith", "Housing"]


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def sector(db_session, name: str) -> Sector:
    return db_session.scalar(select(Sector).where(Sector.name == name))


@pytest.fixture
def place(db_session, make_place, make_organisation):
    """A place with organisations in 6 sectors, and one in "Other"."""
    place = make_place()
    for name in ACTIVE + ["Other"]:
        make_organisation(place=place, sector=sector(db_session, name))
    return place


@pytest.fixture
def survey(make_survey, place):
    return make_survey(places=[place], open_first_wave=True)


def invite(db_session, survey, line="r@example.org,,Funder"):
    parsed = invitations.parse_invitees(db_session, survey.places, line)
    [link] = invitations.create_invitations(db_session, survey.waves[0], parsed.invitees, "secret", "link-secret")
    return link


def answer_everything(page: BeautifulSoup, choice: int = 2) -> dict:
    """Every radio group's third answer (or `choice`), every text box filled."""
    data = {}
    for field in page.select("input[type=radio]"):
        options = page.select(f"input[name='{field['name']}']")
        data[field["name"]] = options[min(choice, len(options) - 1)]["value"]
    for field in page.select("textarea"):
        data[field["name"]] = "Meet more often"
    return data


def walk(client, prefix: str) -> list[str]:
    """Answer every page from the first to check your answers; the pages' titles."""
    titles, index = [], 0
    while True:
        page = soup(client.get(f"{prefix}/{index}"))
        titles.append(page.h1.get_text(strip=True))
        response = client.post(f"{prefix}/{index}", data=answer_everything(page))
        assert response.status_code == 302, [a.get_text() for a in soup(response).select(".govuk-error-summary a")]
        if response.location.endswith("/check"):
            return titles
        index += 1


# --- which sectors, how many pages ----------------------------------------------------------


def test_the_trust_matrix_asks_about_sectors_in_the_place_but_never_other_or_ones_own(db_session, survey, place):
    rated = respondent.sectors_to_rate(db_session, survey, place.id, sector(db_session, "Funder").id)
    assert [s.name for s in rated] == [name for name in ACTIVE if name != "Funder"]


def test_a_coordinators_list_of_sectors_replaces_the_places(db_session, survey, place):
    survey.trust_sector_ids = [sector(db_session, name).id for name in ("Business", "Other", "Funder", "Police and fire")]
    rated = respondent.sectors_to_rate(db_session, survey, place.id, sector(db_session, "Funder").id)
    assert [s.name for s in rated] == ["Business", "Police and fire"]


def test_the_default_survey_fits_in_ten_screens_for_a_place_with_six_sectors(client, db_session, survey):
    link = invite(db_session, survey)
    titles = walk(client, f"/s/{link.token}")
    # Nine pages of questions and check your answers (it was 22 pages and the check page).
    assert len(titles) + 1 == 10
    assert titles[-3:] == ["Anything else", "Working with other sectors (1 of 2)", "Working with other sectors (2 of 2)"]
    trust_pages = [soup(client.get(f"/s/{link.token}/{i}")) for i in (7, 8)]
    shown = [legend.get_text(strip=True) for page in trust_pages for legend in page.select("h2.govuk-fieldset__heading")]
    assert sorted(shown) == sorted(name for name in ACTIVE if name != "Funder")


def test_the_time_estimate_comes_from_the_questions_asked(client, db_session, survey, place):
    link = invite(db_session, survey)
    steps = respondent.journey_steps(
        survey.waves[0].instrument.items, respondent.sectors_to_rate(db_session, survey, place.id, sector(db_session, "Funder").id)
    )
    minutes = respondent.minutes_to_complete(steps)
    assert soup(client.get(f"/s/{link.token}")).select_one("#time-estimate").get_text().startswith(
        f"It takes about {minutes} minutes")
    last = soup(client.get(f"/s/{link.token}/{len(steps) - 1}")).select_one("#progress").get_text()
    assert last == f"Section {len(steps)} of {len(steps)}, about 1 minute left"


# --- Don't know --------------------------------------------------------------------------------


def test_dont_know_is_stored_as_its_own_value_and_counts_as_no_answer(client, db_session, survey):
    link = invite(db_session, survey)
    page = soup(client.get(f"/s/{link.token}/0"))
    assert page.select_one(f"input[name=cs_1][value={DONT_KNOW}]").find_next("label").get_text(strip=True) == "Don't know"
    answers = answer_everything(page) | {"cs_1": DONT_KNOW}
    assert client.post(f"/s/{link.token}/0", data=answers).status_code == 302
    assert respondent.existing_draft(db_session, link.invitation).answers["cs_1"] == DONT_KNOW
    walk(client, f"/s/{link.token}")
    check = soup(client.get(f"/s/{link.token}/check"))
    first_card = check.select_one(".govuk-summary-card")
    assert "Don't know" not in first_card.get_text()  # walk() answered again with the third answer
    client.post(f"/s/{link.token}/0", data=answers | {"cs_2": DONT_KNOW})
    check = soup(client.get(f"/s/{link.token}/check"))
    assert check.select_one(".govuk-summary-card").get_text().count("Don't know") == 2
    client.post(f"/s/{link.token}/check", data={})
    [response_id] = db_session.scalars(select(Response.id).where(Response.wave_id == survey.waves[0].id))
    stored = {a.item_code: (a.numeric_value, a.text_value) for a in
              db_session.scalars(select(Answer).where(Answer.response_id == response_id))}
    assert stored["cs_1"] == (None, DONT_KNOW) and stored["cs_2"] == (None, DONT_KNOW)
    assert stored["cs_3"] == (3.0, None)
    frame = service.responses_frame(db_session, [survey.waves[0]]).responses
    assert frame["cs_1"].isna().all() and frame["cs_3"].tolist() == [3.0]


def test_a_wave_without_dont_know_neither_shows_nor_takes_it(client, db_session, survey):
    survey.waves[0].offer_dont_know = False
    db_session.flush()
    link = invite(db_session, survey)
    page = soup(client.get(f"/s/{link.token}/0"))
    assert not page.select(f"input[value={DONT_KNOW}]")
    response = client.post(f"/s/{link.token}/0", data=answer_everything(page) | {"cs_1": DONT_KNOW})
    assert [a.get_text(strip=True) for a in soup(response).select(".govuk-error-summary a")] == [
        "Select how much you agree that when a new need comes up, organisations here can start working on it together within days, not months"
    ]


def test_surveys_made_before_the_setting_keep_their_waves_without_it(db_session, survey):
    survey.offer_dont_know = True
    survey.waves[0].offer_dont_know = None
    assert respondent.offers_dont_know(survey.waves[0])
    survey.waves[0].offer_dont_know = False  # as the migration sets every wave that existed
    assert not respondent.offers_dont_know(survey.waves[0])


# --- clearing, errors, check your answers ------------------------------------------------------


def test_an_optional_answer_can_be_cleared_without_javascript(client, db_session, survey):
    link = invite(db_session, survey)
    steps = respondent.journey_steps(survey.waves[0].instrument.items, [])
    index = next(i for i, step in enumerate(steps) if step.title == "Anything else")
    path = f"/s/{link.token}/{index}"
    client.post(path, data={"quote_ok": "1", "one_thing": "Shared lunches", "action": "save"})
    page = soup(client.get(path))
    assert page.select_one("input[name=quote_ok][value='1']").has_attr("checked")
    button = page.select_one("button[name=clear][value=quote_ok]")
    assert button.get_text(strip=True).startswith("Clear my answer")
    cleared = client.post(path, data={"quote_ok": "1", "one_thing": "Shared lunches now", "clear": "quote_ok"})
    assert cleared.status_code == 302 and cleared.location.endswith(f"{path}#quote_ok")
    draft = respondent.existing_draft(db_session, link.invitation)
    assert draft.answers["quote_ok"] is None and draft.answers["one_thing"] == "Shared lunches now"
    assert not soup(client.get(path)).select("input[name=quote_ok][checked]")
    # A required question has no such button, and naming it clears nothing.
    first = soup(client.get(f"/s/{link.token}/0"))
    assert not first.select("button[name=clear]")
    # The page's first button continues, so Enter in a box never clears an answer.
    assert page.select("form button")[0]["value"] == "continue"


def test_a_trust_sector_can_be_cleared(client, db_session, survey, place):
    link = invite(db_session, survey)
    index = 7
    path = f"/s/{link.token}/{index}"
    page = soup(client.get(path))
    data = answer_everything(page)
    first_sector = page.select_one("button[name=clear]")["value"]
    client.post(path, data=data | {"action": "save"})
    client.post(path, data=data | {"clear": first_sector})
    ratings = respondent.existing_draft(db_session, link.invitation).answers["trust_matrix"]
    code, sector_id = first_sector.rsplit("-", 1)
    assert code == "trust_matrix" and sector_id not in ratings and len(ratings) == 2


def test_every_error_names_its_question_and_links_to_it(client, db_session, survey):
    link = invite(db_session, survey)
    response = client.post(f"/s/{link.token}/0", data={})
    page = soup(response)
    assert page.title.get_text().startswith("Error: ")
    links = page.select(".govuk-error-summary__list a")
    assert len(links) == 6 and len({a.get_text() for a in links}) == 6
    for a in links:
        assert a.get_text().startswith("Select how much you agree that ")
        target = page.select_one(a["href"])
        assert target is not None and target.name == "input"
        assert a.get_text(strip=True) in target.find_parent(class_="govuk-form-group").select_one(".govuk-error-message").get_text()


def test_check_your_answers_is_one_card_per_page_with_a_change_link(client, db_session, survey):
    link = invite(db_session, survey)
    titles = walk(client, f"/s/{link.token}")
    page = soup(client.get(f"/s/{link.token}/check"))
    cards = page.select(".govuk-summary-card")
    assert [c.select_one(".govuk-summary-card__title").get_text(strip=True) for c in cards] == titles
    assert [len(c.select(".govuk-summary-card__actions a")) for c in cards] == [1] * len(titles)
    assert cards[0].select_one("a")["href"].endswith(f"/s/{link.token}/0?return=check")
    trust = cards[-1]
    assert len(trust.select(".govuk-summary-list__row")) == 2  # one line per sector
    assert "Do what they say: Mostly" in trust.get_text()


# --- privacy, dates, grace, replaced and withdrawn links -----------------------------------------


def test_the_privacy_notice_says_who_what_and_for_how_long(client, db_session, make_survey, place):
    from surveys.models import AnonymityMode

    survey = make_survey(places=[place], open_first_wave=True, anonymity=AnonymityMode.PSEUDONYMOUS)
    survey.contact_email = "survey@example.org"
    survey.waves[0].erase_after_days = 45
    db_session.flush()
    link = invite(db_session, survey)
    start = soup(client.get(f"/s/{link.token}"))
    privacy_url = f"/s/{link.token}/privacy"
    assert start.select_one(f"main a[href='{privacy_url}']") and start.select_one(f"footer a[href='{privacy_url}']")
    page = soup(client.get(privacy_url))
    assert survey.run_by in page.select_one("#run-by").get_text()
    assert "survey@example.org" in page.select_one("#contact").get_text()
    assert "deleted 45 days after" in page.select_one("#erase").get_text()
    assert "kept apart from your answers" in page.get_text()
    assert "pseudonymous, not anonymous" in page.select_one("#pseudonymous").get_text()
    open_page = soup(client.get(f"/o/{survey.waves[0].open_link_slug}/privacy"))
    assert not open_page.select("#pseudonymous") and "no email address is asked for" in open_page.get_text()


def test_respondents_see_the_closing_date(client, db_session, survey):
    survey.waves[0].closes_at = utcnow() + timedelta(days=3)
    db_session.flush()
    link = invite(db_session, survey)
    assert "The survey closes at" in soup(client.get(f"/s/{link.token}")).select_one("#closing-date").get_text()
    walk(client, f"/s/{link.token}")
    assert "Send your answers by" in soup(client.get(f"/s/{link.token}/check")).select_one("#closing-date").get_text()


def test_a_wave_that_opens_later_says_when(client, db_session, make_survey, place):
    survey = make_survey(places=[place])
    wave = survey.waves[0]
    wave.opens_at = utcnow() + timedelta(days=2)
    db_session.flush()
    page = soup(client.get(f"/o/{wave.open_link_slug}"))
    assert page.h1.get_text().startswith("This survey opens on ")


def test_may_still_send_in_the_grace_period_only_with_saved_answers(db_session, survey):
    wave = survey.waves[0]
    now = utcnow()
    draft = Draft(id=1, answers={"cs_1": 4})
    assert respondent.may_still_send(wave, None, now)
    wave.status, wave.closes_at, wave.grace_minutes = WaveStatus.CLOSED.value, now, 60
    assert respondent.may_still_send(wave, draft, now + timedelta(minutes=59))
    assert not respondent.may_still_send(wave, draft, now + timedelta(minutes=61))
    assert not respondent.may_still_send(wave, None, now + timedelta(minutes=1))
    assert not respondent.may_still_send(wave, Draft(answers={}), now + timedelta(minutes=1))  # never saved
    wave.status = WaveStatus.DRAFT.value
    assert not respondent.may_still_send(wave, draft, now)


def test_someone_part_way_through_can_send_after_the_close_within_the_grace_period(client, db_session, survey):
    link = invite(db_session, survey)
    other = invite(db_session, survey, "s@example.org,,Funder")
    walk(client, f"/s/{link.token}")
    service.close_wave(db_session, survey.waves[0], actor=None)
    check = soup(client.get(f"/s/{link.token}/check"))
    assert "You started before then, so you can still send" in check.get_text()
    before = count(db_session, Response)
    assert client.post(f"/s/{link.token}/check", data={}).location.endswith(f"/s/{link.token}/done")
    assert count(db_session, Response) == before + 1
    # Sent before the grace period ended, so not a change after closing.
    assert service.late_changes(db_session, [survey.waves[0]]).dates == {}
    # Someone who had not started cannot start now.
    assert "This survey is not open" in soup(client.get(f"/s/{other.token}")).h1.get_text()
    response = client.post(f"/s/{other.token}/0", data={"cs_1": "4", "action": "save"})
    assert "This survey is not open" in soup(response).h1.get_text()
    assert respondent.existing_draft(db_session, other.invitation) is None


def test_after_the_grace_period_the_closed_page_says_the_answers_were_not_sent(client, db_session, survey):
    link = invite(db_session, survey)
    walk(client, f"/s/{link.token}")
    wave = survey.waves[0]
    service.close_wave(db_session, wave, actor=None)
    wave.closes_at = utcnow() - timedelta(minutes=61)
    db_session.flush()
    before = count(db_session, Response)
    response = client.post(f"/s/{link.token}/check", data={})
    page = soup(response)
    assert page.h1.get_text() == "This survey closed before you sent your answers"
    assert "were not sent" in page.get_text()
    assert count(db_session, Response) == before
    assert soup(client.get(f"/s/{link.token}")).h1.get_text() == "This survey closed before you sent your answers"


def test_a_replaced_link_says_so_and_changes_nothing(app, client, db_session, survey):
    link = invite(db_session, survey)
    old_token = "an-old-link-token"
    db_session.add(ReplacedLink(invitation_id=link.invitation.id, token_hash=hash_token(old_token)))
    db_session.flush()
    response, statements = statements_during(app, lambda: client.get(f"/s/{old_token}"))
    assert response.status_code == 410
    assert soup(response).h1.get_text() == "This link was replaced"
    assert "Any answers you saved are kept" in soup(response).get_text()
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    drafts = count(db_session, Draft)
    assert client.post(f"/s/{old_token}/0", data={"cs_1": "4", "action": "save"}).status_code == 410
    assert count(db_session, Draft) == drafts


def test_a_withdrawn_link_says_who_to_contact_and_changes_nothing(client, db_session, survey):
    survey.contact_email = "help@example.org"
    link = invite(db_session, survey)
    link.invitation.revoked_at = utcnow()
    db_session.flush()
    drafts = count(db_session, Draft)
    for response in (client.get(f"/s/{link.token}"), client.post(f"/s/{link.token}/0", data={"cs_1": "4"}),
                     client.post(f"/s/{link.token}/check", data={})):
        assert response.status_code == 410
        assert soup(response).h1.get_text() == "This link no longer works"
        assert "help@example.org" in soup(response).get_text()
    assert count(db_session, Draft) == drafts
    assert link.invitation.used_at is None


# --- the survey's settings ------------------------------------------------------------------


def test_the_settings_turn_dont_know_off_for_waves_not_yet_open_and_choose_the_sectors(
    client, db_session, make_user, login, survey, place
):
    from core.audit import AuditEntry
    from core.models import Role
    from surveys.models import WaveRole

    login(make_user(Role.COORDINATOR, places=[place]))
    page = soup(client.get(f"/surveys/{survey.id}/settings"))
    assert page.select_one("input[name=offer_dont_know]").has_attr("checked")
    choices = [label.get_text(strip=True) for label in page.select("input[name=trust_sectors] + label")]
    assert "Other" not in choices and "Funder" in choices
    service.close_wave(db_session, survey.waves[0], actor=None)
    next_wave = service.clone_wave(db_session, survey, "Wave 2", WaveRole.FOLLOW_UP)
    margins = {f"margin_{m.construct_id}": "0.25" for m in survey.margins}
    chosen = [sector(db_session, name).id for name in ("Business", "Housing")]
    response = client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": survey.anonymity, "k_internal": "5", "k_briefing": "10", "min_organisations": "3",
        "trust_sectors": chosen, **margins,
    })
    assert response.status_code == 302
    db_session.expire_all()
    assert survey.offer_dont_know is False and sorted(survey.trust_sector_ids) == sorted(chosen)
    assert respondent.offers_dont_know(survey.waves[0])  # the closed wave keeps what it offered
    assert not respondent.offers_dont_know(next_wave)
    rated = respondent.sectors_to_rate(db_session, survey, place.id, sector(db_session, "Funder").id)
    assert [s.name for s in rated] == ["Business", "Housing"]
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.detail.like("%Don't know%")))


def test_the_trust_questions_are_a_table_of_radios_and_keep_their_answers(client, db_session, survey, place):
    """Answers head the columns and each trust question is a row, every radio labelled in
    full for screen readers and phones; the question with answers of its own stays apart."""
    link = invite(db_session, survey)
    path = f"/s/{link.token}/7"
    page = soup(client.get(path))
    table = page.select_one("table.holdfast-radio-table")
    assert [th.get_text(strip=True) for th in table.select("thead th")] == ["Not at all", "A little", "Mostly", "Completely"]
    assert [th.get_text(" ", strip=True) for th in table.select("tbody th")] == [
        "They do what they say they will do (optional)", "They support the goals we share for the area (optional)",
        "They are open to talking things through (optional)"]
    first = table.select_one("input[type=radio]")
    assert page.select_one(f"label[for={first['id']}]").get_text(" ", strip=True) == \
        "Not at all : They do what they say they will do"
    assert not table.select("input[name$=-intensity]") and page.select("input[name$=-intensity]")
    client.post(path, data=answer_everything(page, choice=3) | {"action": "save"})
    again = soup(client.get(path)).select_one("table.holdfast-radio-table")
    assert again.select_one("input[checked]")["value"] == "4"  # the fourth answer, Completely


# --- the radios written out for speed (issue 28) --------------------------------------------

RADIO_CASES = {
    "plain": dict(hint=None, error=None, choices=[{"value": 1, "text": "Disagree", "checked": False},
                                                  {"value": 2, "text": "Agree", "checked": False}]),
    "answered, hint, small": dict(hint="Think of the last year", error=None, classes="govuk-radios--small",
                                  choices=[{"value": 1, "text": "No", "checked": True},
                                           {"value": 2, "text": "Yes", "checked": False}]),
    "error, Don't know after a divider": dict(
        hint="A hint <b>escaped</b>", error="Select how much you agree", classes="govuk-radios--small",
        choices=[{"value": 1, "text": "Agree & more", "checked": False}, {"divider": "or"},
                 {"value": "dont_know", "text": "Don't know", "checked": True}]),
}


def markup_shape(html: str) -> list:
    """Every tag with its attributes and its own text, whitespace folded: what a browser
    and a screen reader get, without the template's indentation."""
    return [
        (tag.name, sorted((k, " ".join(v) if isinstance(v, list) else v) for k, v in tag.attrs.items()),
         " ".join(" ".join(tag.find_all(string=True, recursive=False)).split()))
        for tag in BeautifulSoup(html, "html.parser").find_all(True)
    ]


@pytest.mark.parametrize("case", RADIO_CASES)
def test_the_written_out_radios_are_the_markup_govuk_radios_writes(app, case):
    params = RADIO_CASES[case]
    context = dict(name="trust_1", legend="We keep our promises (optional)", **params)
    context.setdefault("classes", "")
    with app.test_request_context():
        ours = app.jinja_env.from_string(
            '{% import "surveys/respond/questions.html" as q %}'
            "{{ q.radio_set(name, legend, hint, error, choices, classes) }}").render(**context)
        theirs = app.jinja_env.from_string(
            '{% from "govuk_frontend_jinja/components/radios/macro.html" import govukRadios %}'
            '{{ govukRadios({"name": name, "idPrefix": name, "classes": classes,'
            ' "fieldset": {"legend": {"text": legend, "classes": "govuk-fieldset__legend--s"}},'
            ' "hint": {"text": hint} if hint else none, "errorMessage": {"text": error} if error else none,'
            ' "items": choices}) }}').render(**context)
    assert markup_shape(ours) == markup_shape(theirs)
    assert "<b>" not in ours


# --- what holds SQLite's write lock (issue 28) ---------------------------------------------


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    """An app on a SQLite file of its own whose requests really begin and commit, so what
    runs between BEGIN IMMEDIATE and COMMIT can be seen."""
    app = create_app(base_test_config(f"sqlite:///{tmp_path_factory.mktemp('lock') / 'lock.db'}"))
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
    yield app
    app.extensions["db_engine"].dispose()


def under_the_write_lock(app, request) -> tuple:
    """The response to `request()` and, for each transaction that took the write lock,
    the statements it ran before it ended."""
    engine, log = app.extensions["db_engine"], []
    listeners = {
        "before_cursor_execute": lambda _conn, _cursor, statement, *_args: log.append(statement.split()[0:3]),
        "commit": lambda _conn: log.append(["END"]),
        "rollback": lambda _conn: log.append(["END"]),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        response = request()
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    locked, current = [], None
    for words in log:
        if words[:2] == ["BEGIN", "IMMEDIATE"]:
            current = []
        elif words == ["END"]:
            if current is not None:
                locked.append(current)
            current = None
        elif current is not None:
            current.append(" ".join(words[:3]))
    return response, locked


def test_a_page_and_a_send_hold_the_write_lock_only_for_their_writes(sqlite_app):
    with sqlite_app.extensions["db_sessionmaker"]() as session:
        survey = service.create_survey(session, "Lock", "Board", "", "coordination-and-trust", [1],
                                       service.AnonymityMode.ANONYMOUS)
        service.open_wave(session, survey.waves[0], actor=None)
        link = invite(session, survey)
        session.commit()
    client, prefix = sqlite_app.test_client(), f"/s/{link.token}"

    first_page = soup(client.get(f"{prefix}/0"))
    response, locked = under_the_write_lock(sqlite_app, lambda: client.post(f"{prefix}/0", data=answer_everything(first_page)))
    assert response.status_code == 302
    # The draft is made, then the page's answers saved: a write each, and nothing read
    # (nor any page or form built) while the lock is held.
    assert locked == [["INSERT INTO drafts"], ["UPDATE drafts SET"]]

    second_page = soup(client.get(f"{prefix}/1"))
    response, locked = under_the_write_lock(sqlite_app, lambda: client.post(f"{prefix}/1", data=answer_everything(second_page)))
    assert response.status_code == 302 and locked == [["UPDATE drafts SET"]]

    walk(client, prefix)
    response, locked = under_the_write_lock(sqlite_app, lambda: client.post(f"{prefix}/check"))
    assert response.location.endswith("/done")
    # One statement per table, and the invitation spent once (no second UPDATE).
    assert locked == [["UPDATE invitations SET", "INSERT INTO responses", "INSERT INTO answers",
                       "INSERT INTO trust_ratings", "DELETE FROM drafts"]]


def test_a_send_does_not_work_out_the_pages_it_no_longer_shows(sqlite_app):
    """A send that goes through redirects: the trust matrix's sectors (and the survey's
    places they come from) are not read for it. A refused one still finds the page that
    needs an answer."""
    with sqlite_app.extensions["db_sessionmaker"]() as session:
        survey = service.create_survey(session, "Pages", "Board", "", "coordination-and-trust", [1],
                                       service.AnonymityMode.ANONYMOUS)
        service.open_wave(session, survey.waves[0], actor=None)
        done, unfinished = invite(session, survey), invite(session, survey)
        session.commit()
    client = sqlite_app.test_client()
    walk(client, f"/s/{done.token}")
    response, statements = statements_during(sqlite_app, lambda: client.post(f"/s/{done.token}/check"))
    assert response.location.endswith("/done")
    assert not [s for s in statements if "FROM sectors" in s or "FROM survey_places" in s]

    client.post(f"/s/{unfinished.token}/0", data=answer_everything(soup(client.get(f"/s/{unfinished.token}/0"))))
    refused = client.post(f"/s/{unfinished.token}/check")
    assert refused.status_code == 302 and refused.location.endswith(f"/s/{unfinished.token}/1")
