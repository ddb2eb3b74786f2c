"""Quotes: only from respondents who opted in, flagged for the reviewer, approved (as
written or edited) or rejected with every decision kept, and printed only once approved and
chosen, attributed at most to a sector that passes the public threshold."""

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from briefings import quotes
from briefings.models import Quote, QuoteDecision, QuoteStatus
from core.models import Sector
from surveys.instruments import QUOTE_CONSENT_CODE, QUOTE_CONSENT_YES
from surveys.models import Answer, Response
from tests.briefings.test_routes import demo_user, pdf_text, survey_in
from tests.conftest import count, demo_surveys, sign_in

pytestmark = pytest.mark.dataset.with_args(demo_surveys)

DEMO_PASSWORD = "holdfast-demo-2026"


def test_flags_catch_a_name_an_email_and_a_phone_number():
    kinds = lambda text, known=frozenset(): [(f.kind, f.text) for f in quotes.flags(text, known)]  # noqa: E731
    assert kinds("Sarah Okafor runs the weekly call and it is where things get unstuck.") == [("name", "Sarah Okafor")]
    assert kinds("Ask Dr Patel at the surgery.") == [("name", "Dr Patel")]
    assert kinds("It works because Priya chairs it.") == [("name", "Priya")]
    assert kinds("Email j.patel@example.org or ring 07700 900123.") == [
        ("email", "j.patel@example.org"), ("phone", "07700 900123")]
    assert kinds("Call +44 (0)20 7946 0000 any day.") == [("phone", "+44 (0)20 7946 0000")]
    # Capitalised words that are not people: the start of a sentence, months, bodies, the
    # place's own names.
    assert kinds("Funding that lasts. The NHS and the Council meet in January.") == []
    assert kinds("We rely on Brackenford Food Bank.", frozenset({"Brackenford", "Food", "Bank"})) == []
    assert kinds("Funding for 2 years, 12 months at least, 150 families.") == []


def _opted_in_answers(db_session, wave, place) -> set[tuple[int, str]]:
    consent = select(Answer.response_id).where(Answer.item_code == QUOTE_CONSENT_CODE,
                                               Answer.numeric_value == QUOTE_CONSENT_YES)
    rows = db_session.execute(
        select(Answer.response_id, Answer.item_code).join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave.id, Response.place_id == place.id, Answer.text_value.is_not(None),
               Answer.response_id.in_(consent))).all()
    return {tuple(row) for row in rows}


def count_of_text(wave):
    return (select(func.count()).select_from(Answer).join(Response, Response.id == Answer.response_id)
            .where(Response.wave_id == wave.id, Answer.text_value.is_not(None)))


def test_candidates_are_only_the_answers_of_respondents_who_opted_in(db_session, demo):
    survey = survey_in(demo, "Eastholme")
    wave, place = survey.waves[-1], survey.places[0]
    found = quotes.candidates(db_session, wave, [place])
    written = db_session.scalar(count_of_text(wave))
    assert 0 < len(found) < written  # the demo answers the question both ways
    assert {(c.response_id, c.item_code) for c in found} == _opted_in_answers(db_session, wave, place)
    assert all(c.status is None and c.text == c.answer for c in found)
    flagged = {c.answer: {f.kind for f in c.flags} for c in found if c.flags}
    assert any(kinds == {"name"} for kinds in flagged.values())
    assert any(kinds == {"email", "phone"} for kinds in flagged.values())
    assert quotes.candidates(db_session, wave, []) == []  # a user with none of the survey's places sees none


def test_review_keeps_the_original_and_every_decision_once(db_session, demo, make_user):
    survey = survey_in(demo, "Eastholme")
    wave, place = survey.waves[-1], survey.places[0]
    reviewer = make_user(places=[place])
    candidate = next(c for c in quotes.candidates(db_session, wave, [place]) if "Sarah Okafor" in c.answer)
    edited = candidate.answer.replace("Sarah Okafor", "[name]")
    quote = quotes.review(db_session, wave, candidate, QuoteStatus.APPROVED, edited, reviewer)
    quotes.review(db_session, wave, candidate, QuoteStatus.APPROVED, edited, reviewer)  # a double click
    assert (quote.original, quote.text, quote.status) == (candidate.answer, edited, "approved") and quote.edited
    assert count(db_session, Quote) == 1 and count(db_session, QuoteDecision) == 1
    quotes.choose(db_session, candidate, True)
    quotes.review(db_session, wave, candidate, QuoteStatus.REJECTED, "", reviewer)
    assert (quote.status, quote.in_briefings, quote.text) == ("rejected", False, edited)  # rejected: out of briefings
    again = quotes.candidate(db_session, wave, [place], candidate.response_id, candidate.item_code)
    assert [(d[2], d[3]) for d in again.history] == [("approved", edited), ("rejected", edited)]
    answer = db_session.scalar(select(Answer.text_value).where(Answer.response_id == candidate.response_id,
                                                                Answer.item_code == candidate.item_code))
    assert answer == candidate.answer  # the respondent's words are never changed


def _approve_and_choose(db_session, wave, candidate, text, user):
    quotes.review(db_session, wave, candidate, QuoteStatus.APPROVED, text, user)
    quotes.choose(db_session, candidate, True)


def test_the_briefing_prints_only_approved_chosen_quotes_with_a_sector_that_passes(
        app, db_session, demo, make_user, tmp_path):
    survey = survey_in(demo, "Eastholme")
    wave, place = survey.waves[-1], survey.places[0]
    user = make_user(places=[place])
    found = quotes.candidates(db_session, wave, [place])
    big = next(c for c in found if c.sector == "Voluntary and community")
    _approve_and_choose(db_session, wave, big, "Keep the weekly call going.", user)
    approved_only = next(c for c in found if c.key != big.key)
    quotes.review(db_session, wave, approved_only, QuoteStatus.APPROVED, "Approved but never chosen.", user)
    rejected = next(c for c in found if c.key not in (big.key, approved_only.key))
    quotes.review(db_session, wave, rejected, QuoteStatus.REJECTED, "", user)
    # Faith answers 3 times a wave: an approved Faith quote appears, but not as Faith's.
    faith = db_session.scalar(select(Sector).where(Sector.name == "Faith"))
    faith_response = db_session.scalar(select(Response).where(Response.wave_id == wave.id,
                                                              Response.sector_id == faith.id))
    db_session.add_all([
        Answer(response_id=faith_response.id, item_code="one_thing", text_value="A quiet word from a small group."),
        Answer(response_id=faith_response.id, item_code=QUOTE_CONSENT_CODE, numeric_value=QUOTE_CONSENT_YES)])
    db_session.flush()
    faith_candidate = quotes.candidate(db_session, wave, [place], faith_response.id, "one_thing")
    _approve_and_choose(db_session, wave, faith_candidate, faith_candidate.answer, user)

    client = app.test_client()
    sign_in(client, demo_user(db_session, "coordinator@example.org"), DEMO_PASSWORD)
    html = client.get(f"/briefings/surveys/{survey.id}").get_data(as_text=True)
    section = html[html.index('id="quotes"'):html.index('id="caveats"')]
    assert "Keep the weekly call going." in section and "Someone from the Voluntary and community sector" in section
    assert "A quiet word from a small group." in section and "Faith" not in section
    assert "Someone who took part" in section
    assert "Approved but never chosen." not in section and rejected.answer not in section
    assert big.answer not in section  # the edit, not the original
    text = " ".join(pdf_text(client.get(f"/briefings/surveys/{survey.id}.pdf").data, tmp_path).split())
    assert "Keep the weekly call going." in text and "Someone from the Voluntary and community sector" in text
    assert not re.search(r"Faith sector", text)


def test_a_quote_withdrawn_from_consent_is_never_printed(db_session, demo, make_user):
    """Consent is read again when the briefing is built: a quote whose respondent's answer
    to the question is not yes never appears, whatever was approved."""
    survey = survey_in(demo, "Eastholme")
    wave, place = survey.waves[-1], survey.places[0]
    candidate = quotes.candidates(db_session, wave, [place])[0]
    _approve_and_choose(db_session, wave, candidate, candidate.answer, make_user(places=[place]))
    assert [q.text for q in quotes.chosen(db_session, wave, place)] == [candidate.answer]
    consent = db_session.scalar(select(Answer).where(Answer.response_id == candidate.response_id,
                                                     Answer.item_code == QUOTE_CONSENT_CODE))
    consent.numeric_value = 2
    db_session.flush()
    assert quotes.chosen(db_session, wave, place) == []


def test_the_review_page_approves_edits_and_chooses(app, db_session, demo):
    survey = survey_in(demo, "Eastholme")
    wave = survey.waves[-1]
    client = app.test_client()
    sign_in(client, demo_user(db_session, "coordinator@example.org"), DEMO_PASSWORD)
    page = client.get(f"/briefings/surveys/{survey.id}/waves/{wave.id}/quotes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Check before approving" in html and "May be a name “Sarah Okafor”" in html
    candidate = next(c for c in quotes.candidates(db_session, wave, survey.places) if "Sarah Okafor" in c.answer)
    path = f"/briefings/surveys/{survey.id}/waves/{wave.id}/quotes/{candidate.response_id}/{candidate.item_code}"
    empty = client.post(path, data={"text": "  ", "approve": "Approve"})
    assert empty.status_code == 200 and "Enter the quote as it should appear" in empty.get_data(as_text=True)
    assert "<title>Error: " in empty.get_data(as_text=True) and count(db_session, Quote) == 0
    edited = candidate.answer.replace("Sarah Okafor", "the chair")
    assert client.post(path, data={"text": edited, "approve": "Approve"}).status_code == 302
    assert client.post(path + "/choose", data={"in_briefings": "yes"}).status_code == 302
    html = client.get(f"/briefings/surveys/{survey.id}").get_data(as_text=True)
    assert escape(edited) in html and "Sarah Okafor" not in html
    assert client.post(path + "/choose", data={"in_briefings": "no"}).status_code == 302
    assert escape(edited) not in client.get(f"/briefings/surveys/{survey.id}").get_data(as_text=True)
    # Someone else's place, or an answer without consent: 403 / 404.
    other = survey_in(demo, "Wexcombe Borough")
    assert client.get(f"/briefings/surveys/{other.id}/waves/{other.waves[-1].id}/quotes").status_code == 403
    refused = db_session.scalar(
        select(Answer.response_id).join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave.id, Answer.item_code == QUOTE_CONSENT_CODE, Answer.numeric_value != 1))
    no_consent = f"/briefings/surveys/{survey.id}/waves/{wave.id}/quotes/{refused}/one_thing"
    assert client.post(no_consent, data={"text": "x", "approve": "Approve"}).status_code == 404
