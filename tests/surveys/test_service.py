import math

import pandas as pd
import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from core.service import ServiceError, hash_token
from surveys import dashboard, questions, respondent as journey, service
from surveys import invitations
from surveys.models import (
    AnonymityMode, Answer, Draft, Invitation, InviteeIdentity, Response, TrustRating, WaveRole,
)
from tests.conftest import count


def complete_answers(wave, value=4):
    """Valid answers to every question of the wave (trust matrix: one sector rated)."""
    answers = {}
    for item in wave.instrument.items:
        answers[item.code] = {
            "likert": value, "single": 1, "multi": [1], "number": 3.0, "text": "Fine",
            "trust_matrix": {"1": {"reliable": 3, "open": 2}},
        }[item.type]
    return answers


def respondent(wave, **kwargs):
    return service.Respondent(sector_id=2, place_id=wave.survey.places[0].id, **kwargs)


def test_new_survey_copies_the_template_into_a_draft_first_wave(db_session, make_survey):
    survey = make_survey()
    wave = survey.waves[0]
    assert (wave.number, wave.label, wave.status, wave.role) == (1, "Wave 1", "draft", "baseline")
    codes = [item.code for item in wave.instrument.items]
    assert codes[:3] == ["cs_1", "cs_2", "cs_3"] and codes[-1] == "trust_matrix"
    assert len({i.construct.code for i in wave.instrument.items if i.construct}) == 11
    # Every construct has a reverse-worded item, and a margin.
    for construct in {i.construct.code for i in wave.instrument.items if i.construct}:
        assert any(i.reverse for i in wave.instrument.items if i.construct and i.construct.code == construct)
    assert {m.construct.code for m in survey.margins} == {i.construct.code for i in wave.instrument.items if i.construct}
    assert not wave.instrument.builtin and not wave.instrument.is_published


def test_opening_freezes_the_questions(db_session, make_survey):
    survey = make_survey()
    wave = survey.waves[0]
    service.open_wave(db_session, wave, actor=None)
    assert wave.status == "open" and wave.instrument.is_published
    with pytest.raises(ServiceError, match="cannot change"):
        questions.save_item(db_session, wave, None, "new_q", "S", "Text", "", "likert",
                          {"choices": [{"value": 1, "label": "a"}, {"value": 2, "label": "b"}]}, None, False, True)
    with pytest.raises(ServiceError):
        service.open_wave(db_session, wave, actor=None)


def test_new_waves_ask_whether_free_text_may_be_quoted_right_after_it(db_session, make_survey):
    survey = make_survey()
    codes = [item.code for item in survey.waves[0].instrument.items]
    assert codes[codes.index("one_thing") + 1] == "quote_ok"
    # A survey made before the question existed gets it in its next wave, once.
    first = survey.waves[0]
    consent = next(i for i in first.instrument.items if i.code == "quote_ok")
    first.instrument.items.remove(consent)
    db_session.flush()
    service.open_wave(db_session, first, actor=None)
    service.close_wave(db_session, first, actor=None)
    second = service.clone_wave(db_session, survey, "Wave 2", WaveRole.FOLLOW_UP)
    items = second.instrument.items
    codes = [item.code for item in items]
    assert codes.count("quote_ok") == 1 and codes[codes.index("one_thing") + 1] == "quote_ok"
    assert [item.position for item in items] == list(range(1, len(items) + 1))
    added = items[codes.index("quote_ok")]
    assert added.section == items[codes.index("one_thing")].section and not added.required
    assert [c["label"] for c in added.options["choices"]] == ["Yes, you may quote what I wrote", "No, do not quote me"]


def test_clone_makes_a_new_version_and_wording_changes_break_the_trend(db_session, make_survey):
    survey = make_survey()
    first = survey.waves[0]
    with pytest.raises(ServiceError):
        service.clone_wave(db_session, survey, "Wave 2", WaveRole.FOLLOW_UP)  # a draft wave exists
    service.open_wave(db_session, first, actor=None)
    service.close_wave(db_session, first, actor=None)
    with pytest.raises(ServiceError, match="no other wave of this survey has"):
        service.clone_wave(db_session, survey, f" {first.label.upper()} ", WaveRole.GAIN)  # results key on labels
    second = service.clone_wave(db_session, survey, "Wave 2", WaveRole.GAIN)
    assert second.instrument.version == 2 and second.instrument.previous_id == first.instrument.id
    assert [i.code for i in second.instrument.items] == [i.code for i in first.instrument.items]
    assert questions.trend_report(db_session, second.instrument) == questions.TrendReport([], [], [])

    tr_1 = next(i for i in second.instrument.items if i.code == "tr_1")
    questions.save_item(db_session, second, tr_1, "tr_1", tr_1.section, "A reworded question.", "", "likert",
                      tr_1.options, tr_1.construct_id, False, True)
    assert tr_1.breaks_trend
    cs_1 = next(i for i in second.instrument.items if i.code == "cs_1")
    questions.save_item(db_session, second, cs_1, "cs_1", "New section name", cs_1.text, "", "likert",
                      cs_1.options, cs_1.construct_id, False, True)
    assert not cs_1.breaks_trend  # moving section is not a change of wording or scale
    sf_1 = next(i for i in second.instrument.items if i.code == "sf_1")
    questions.delete_item(db_session, second, sf_1)
    questions.save_item(db_session, second, None, "extra_1", "Extra", "Brand new?", "", "likert",
                      sf_1.options, None, False, True)
    report = questions.trend_report(db_session, second.instrument)
    assert [i.code for i in report.changed] == ["tr_1"]
    assert [i.code for i in report.added] == ["extra_1"]
    assert report.removed == ["sf_1"]
    # The published first version is untouched.
    assert next(i for i in first.instrument.items if i.code == "tr_1").text.startswith("I trust")


def test_item_rules(db_session, make_survey):
    wave = make_survey().waves[0]
    likert = wave.instrument.items[0].options
    with pytest.raises(ServiceError, match="Code must start"):
        questions.save_item(db_session, wave, None, "Bad Code", "S", "T", "", "likert", likert, None, False, True)
    with pytest.raises(ServiceError, match="already uses"):
        questions.save_item(db_session, wave, None, "cs_1", "S", "T", "", "likert", likert, None, False, True)
    with pytest.raises(ServiceError, match="at least two choices"):
        questions.save_item(db_session, wave, None, "one", "S", "T", "", "single",
                          {"choices": [{"value": 1, "label": "a"}]}, None, False, True)
    item = questions.save_item(db_session, wave, None, "meetings", "S", "How many?", "", "number",
                             {"min": 0, "max": 10}, 5, True, False)
    assert (item.construct_id, item.reverse) == (None, False)  # only agreement questions score a construct


def test_move_item(db_session, make_survey):
    wave = make_survey().waves[0]
    first, second = wave.instrument.items[:2]
    questions.move_item(db_session, wave, second, -1)
    assert [i.code for i in wave.instrument.items[:2]] == [second.code, first.code]


def test_settings_only_raise_thresholds_and_log_late_margin_changes(db_session, make_survey, make_user):
    survey = make_survey()
    user = make_user()
    trust = next(m for m in survey.margins if m.construct.code == "trust")
    with pytest.raises(ServiceError, match="only be raised"):
        service.update_settings(db_session, survey, user, AnonymityMode.ANONYMOUS, 4, 10, 3, {})
    service.update_settings(db_session, survey, user, AnonymityMode.PSEUDONYMOUS, 6, 12, 3, {trust.construct_id: 0.3})
    assert (survey.k_internal, survey.k_briefing, trust.margin) == (6, 12, 0.3)
    assert service.margin_changes(db_session, survey) == []  # before any wave opened: not a change to report
    with pytest.raises(ServiceError, match="only be raised"):
        service.update_settings(db_session, survey, user, AnonymityMode.PSEUDONYMOUS, 5, 12, 3, {})
    service.open_wave(db_session, survey.waves[0], actor=None)
    with pytest.raises(ServiceError, match="anonymity"):
        service.update_settings(db_session, survey, user, AnonymityMode.ANONYMOUS, 6, 12, 3, {})
    service.update_settings(db_session, survey, user, AnonymityMode.PSEUDONYMOUS, 6, 12, 3, {trust.construct_id: 0.2})
    [change] = service.margin_changes(db_session, survey)
    assert (change.old_margin, change.new_margin, change.construct.code) == (0.3, 0.2, "trust")


def test_every_threshold_a_survey_has_had_is_known_in_order(db_session, make_survey, make_user):
    """Decisions are made at each threshold in turn (so a raise only withholds more): the
    pages' thresholds, then for briefings theirs, oldest first, each pair once."""
    survey = make_survey()
    user = make_user()
    assert service.thresholds_had(db_session, survey) == [(5, 3)]
    for k, k_briefing, organisations in ((7, 10, 3), (7, 10, 4), (7, 12, 4)):  # one change at a time
        service.update_settings(db_session, survey, user, AnonymityMode.ANONYMOUS, k, k_briefing, organisations, {})
        db_session.flush()
    assert service.thresholds_had(db_session, survey) == [(5, 3), (7, 3), (7, 4)]
    assert service.thresholds_had(db_session, survey, public=True) == [
        (5, 3), (7, 3), (7, 4), (10, 3), (10, 4), (12, 4)]


def test_invitation_tokens_are_stored_only_as_hashes(db_session, make_survey, make_organisation):
    survey = make_survey(anonymity=AnonymityMode.PSEUDONYMOUS, open_first_wave=True)
    organisation = make_organisation(place=survey.places[0])
    parsed = invitations.parse_invitees(db_session, survey.places, f"email,organisation,sector\nA@Example.org,{organisation.name},\n")
    assert parsed.errors == []
    [link] = invitations.create_invitations(db_session, survey.waves[0], parsed.invitees, "secret", "link-secret")
    invitation = db_session.get(Invitation, link.invitation.id)
    assert invitation.token_hash == hash_token(link.token) and link.token not in invitation.token_hash
    assert invitation.sector_id == organisation.sector_id and invitation.identity.email == "a@example.org"
    assert invitation.panel_key == invitations.panel_key("secret", "a@example.org")
    assert journey.invitation_for_token(db_session, link.token) == invitation
    assert journey.invitation_for_token(db_session, "wrong") is None


def test_anonymous_surveys_have_no_panel_key(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    parsed = invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder")
    [link] = invitations.create_invitations(db_session, survey.waves[0], parsed.invitees, "secret", "link-secret")
    assert link.invitation.panel_key is None


def test_invitee_lines_are_checked(db_session, make_survey, make_place):
    survey = make_survey(places=[make_place(), make_place()], open_first_wave=True)
    parsed = invitations.parse_invitees(db_session, survey.places, "\n".join([
        "not-an-email,,Funder",
        "a@example.org,Ghost Org,Funder",
        "b@example.org,,Nonsense",
        "c@example.org,,Funder",
        "d@example.org,,Funder," + survey.places[1].name,
        "D@example.org,,Funder," + survey.places[1].name,
    ]))
    assert [line for line, _ in parsed.errors] == [1, 2, 3, 4, 6]
    assert "Give the place" in parsed.errors[3][1]
    assert "listed twice" in parsed.errors[4][1]
    assert [i.email for i in parsed.invitees] == ["d@example.org"]


def test_journey_steps_group_sections_and_put_a_few_sectors_on_each_trust_page(db_session, make_survey):
    from core.service import list_sectors

    wave = make_survey().waves[0]
    sectors = list_sectors(db_session)[:5]
    steps = journey.journey_steps(wave.instrument.items, sectors)
    construct_steps = [s for s in steps if not s.is_trust]
    assert [len(s.items) for s in construct_steps] == [6, 6, 7, 6, 7, 3, 2]
    trust_steps = [s for s in steps if s.is_trust]
    assert [len(s.sectors) for s in trust_steps] == [3, 2]
    assert sorted(i for s in trust_steps for i, _ in s.sectors) == sorted(s.id for s in sectors)


def test_apply_step_reports_errors_by_field(db_session, make_survey):
    wave = make_survey().waves[0]
    steps = journey.journey_steps(wave.instrument.items, [])
    answers, errors = journey.apply_step(steps[0], {}, MultiDict({"cs_1": "5", "cs_2": "9"}))
    assert answers["cs_1"] == 5
    assert set(errors) == {"cs_2", "cs_3", "sf_1", "sf_2", "sf_3"}
    assert errors["cs_2"] == "Select how much you agree that I know who to contact in other organisations to get something moving quickly"
    assert errors["sf_1"] == "Select how much you agree that organisations here agree on the few things that matter most for our area"


def test_submission_is_idempotent_and_spends_the_invitation(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    [link] = invitations.create_invitations(db_session, wave, invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder").invitees, "s", "link-secret")
    draft = journey.draft_for_invitation(db_session, link.invitation)
    answers = complete_answers(wave)
    before = count(db_session, Response)
    first = journey.submit_response(db_session, wave, respondent(wave), answers, draft.submission_key, link.invitation)
    again = journey.submit_response(db_session, wave, respondent(wave), answers, draft.submission_key, link.invitation)
    assert again == first and count(db_session, Response) == before + 1
    assert link.invitation.used_at is not None
    assert db_session.scalar(select(Draft).where(Draft.invitation_id == link.invitation.id)) is None
    answered = sum(1 for i in wave.instrument.items if i.type in ("likert", "single", "text"))
    assert db_session.scalar(select(count_of(Answer)).where(Answer.response_id == first)) == answered
    assert db_session.scalar(select(count_of(TrustRating)).where(TrustRating.response_id == first)) == 2
    # Another key on the spent invitation stores nothing.
    with pytest.raises(journey.AlreadySubmitted):
        journey.submit_response(db_session, wave, respondent(wave), answers, "another key", link.invitation)
    assert count(db_session, Response) == before + 1


def count_of(model):
    from sqlalchemy import func

    return func.count(model.id)


def test_submission_refuses_answers_outside_the_scale(db_session, make_survey):
    wave = make_survey(open_first_wave=True).waves[0]
    answers = complete_answers(wave) | {"tr_1": 7}
    before = count(db_session, Response)
    with pytest.raises(ServiceError) as error:
        journey.submit_response(db_session, wave, respondent(wave), answers, "k-outside")
    assert (error.value.field, error.value.message) == (
        "tr_1", "Select how much you agree that I trust other organisations here to do what they say they will do")
    assert count(db_session, Response) == before


def test_closed_wave_takes_no_responses(db_session, make_survey):
    wave = make_survey(open_first_wave=True).waves[0]
    service.close_wave(db_session, wave, actor=None)
    with pytest.raises(ServiceError, match="not open"):
        journey.submit_response(db_session, wave, respondent(wave), complete_answers(wave), "k-closed")


def test_erasing_identities_keeps_responses(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    [link] = invitations.create_invitations(db_session, wave, invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder").invitees, "s", "link-secret")
    journey.submit_response(db_session, wave, respondent(wave), complete_answers(wave), "k-erase", link.invitation)
    with pytest.raises(ServiceError, match="Close the wave"):
        invitations.erase_identities(db_session, wave, actor=None)
    service.close_wave(db_session, wave, actor=None)
    assert invitations.erase_identities(db_session, wave, actor=None) == 1
    assert db_session.scalar(select(InviteeIdentity).where(InviteeIdentity.wave_id == wave.id)) is None
    assert db_session.get(Invitation, link.invitation.id).identity_id is None
    assert dashboard.response_count(db_session, wave) == 1


def test_responses_frame_is_tidy(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    journey.submit_response(db_session, wave, respondent(wave, panel_key="abc"), complete_answers(wave, 2), "k-frame-1")
    journey.submit_response(db_session, wave, respondent(wave), complete_answers(wave, 5) | {"one_thing": None}, "k-frame-2")
    data = service.responses_frame(db_session, [wave])
    frame = data.responses
    assert list(frame.columns[:6]) == ["response_id", "wave", "sector", "place", "organisation", "panel_key"]
    assert len(frame) == 2 and frame["wave"].unique().tolist() == ["Wave 1"]
    assert frame["tr_1"].tolist() == [2.0, 5.0]
    assert frame["panel_key"].tolist()[0] == "abc"
    codebook = data.codebook.set_index("item")
    assert codebook.loc["tr_4", ["construct", "reverse", "min", "max"]].tolist() == ["trust", 1, 1, 5]
    assert "one_thing" not in frame.columns and data.text["text"].tolist() == ["Fine"]
    assert len(data.trust) == 4 and set(data.trust["dimension"]) == {"reliable", "open"}


def test_wave_counts_by_sector_and_place(db_session, make_survey, make_organisation):
    survey = make_survey(open_first_wave=True)
    organisation = make_organisation(place=survey.places[0])
    wave = survey.waves[0]
    for n in range(3):
        journey.submit_response(db_session, wave, respondent(wave), complete_answers(wave), f"k-count-{n}")
    journey.submit_response(db_session, wave, service.Respondent(3, survey.places[0].id, organisation.id), complete_answers(wave), "k-org")
    counts = dashboard.wave_counts(db_session, wave)
    place = survey.places[0].name
    assert counts.total == 4
    assert counts.responses.loc["Local authority", place] == 3
    assert int(counts.daily.sum()) == 4
    # Organisations count only where every response in the cell names one.
    assert pd.isna(counts.organisations.loc["Local authority", place])
    assert counts.organisations.loc["Health and care", place] == 1
    assert ("Local authority", place) not in counts.response_rates(5)  # nobody was invited


def test_response_rate_counts_invitations_answered(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    emails = "\n".join(f"p{n}@example.org,,Funder" for n in range(10))
    links = invitations.create_invitations(db_session, wave, invitations.parse_invitees(db_session, survey.places, emails).invitees, "s", "link-secret")
    place = survey.places[0].name
    for n, link in enumerate(links[:6]):
        journey.submit_response(db_session, wave, service.Respondent(4, survey.places[0].id), complete_answers(wave), f"rate-{n}", link.invitation)
    # Open-link answers in the same cell do not raise the rate.
    journey.submit_response(db_session, wave, service.Respondent(4, survey.places[0].id, channel="open"), complete_answers(wave), "rate-open")
    counts = dashboard.wave_counts(db_session, wave)
    assert counts.response_rates(5) == {("Funder", place): 60}
    assert counts.response_rates(7) == {}  # 6 answered: below k, not shown


def test_panel_keys_follow_the_mode_at_submission(db_session, make_survey, make_user):
    """Invited while pseudonymous, then switched before anything opened: no key is stored."""
    from surveys.models import WaveStatus

    survey = make_survey(anonymity=AnonymityMode.PSEUDONYMOUS)
    wave = survey.waves[0]
    parsed = invitations.parse_invitees(db_session, survey.places, "a@example.org,,Funder")
    [link] = invitations.create_invitations(db_session, wave, parsed.invitees, "s", "link-secret")
    with pytest.raises(ServiceError, match="people have been invited"):
        service.update_settings(db_session, survey, make_user(), AnonymityMode.ANONYMOUS, 5, 10, 3, {})
    assert wave.status == WaveStatus.DRAFT and link.invitation.panel_key


def test_multiple_choice_columns_distinguish_not_chosen_from_unanswered(db_session, make_survey):
    survey = make_survey(template="participation", open_first_wave=True)
    wave = survey.waves[0]
    base = complete_answers(wave)
    journey.submit_response(db_session, wave, respondent(wave), base | {"pp_forums": [2]}, "m1")
    journey.submit_response(db_session, wave, respondent(wave), base | {"pp_forums": None}, "m2")
    frame = service.responses_frame(db_session, [wave]).responses.set_index("response_id")
    chosen = frame[[f"pp_forums_{v}" for v in range(1, 6)]]
    assert chosen.iloc[0].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]   # answered: unchosen are 0
    assert chosen.iloc[1].isna().all()                             # not answered: missing


def test_the_codebook_marks_a_break_anywhere_across_the_waves(db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    service.close_wave(db_session, survey.waves[0], actor=None)
    second = service.clone_wave(db_session, survey, "Wave 2", WaveRole.GAIN)
    tr_1 = next(i for i in second.instrument.items if i.code == "tr_1")
    questions.save_item(db_session, second, tr_1, "tr_1", tr_1.section, "Reworded.", "", "likert",
                      tr_1.options, tr_1.construct_id, False, True)
    service.open_wave(db_session, second, actor=None)
    service.close_wave(db_session, second, actor=None)
    third = service.clone_wave(db_session, survey, "Wave 3", WaveRole.FOLLOW_UP)
    assert not next(i for i in third.instrument.items if i.code == "tr_1").breaks_trend  # 2 → 3 unchanged
    codebook = service.responses_frame(db_session, [survey.waves[0], third]).codebook.set_index("item")
    assert codebook.loc["tr_1", "breaks_trend"] and not codebook.loc["tr_2", "breaks_trend"]


@pytest.mark.both_backends
def test_control_characters_never_reach_storage(db_session, make_survey):
    from surveys.question_types import question_type

    wave = make_survey(open_first_wave=True).waves[0]
    text_item = next(i for i in wave.instrument.items if i.type == "text")
    assert question_type("text").parse(text_item, MultiDict({text_item.code: "a\x0bb\x00c"}))[0] == "abc"
    with pytest.raises(ServiceError, match="control characters"):
        journey.submit_response(db_session, wave, respondent(wave), complete_answers(wave) | {text_item.code: "x\x0b"}, "cc")


def test_time_to_complete_is_estimated_from_the_questions(db_session, make_survey):
    from core.service import list_sectors

    wave = make_survey().waves[0]
    sectors = list_sectors(db_session)[:5]
    steps = journey.journey_steps(wave.instrument.items, sectors)
    # 35 agreement questions, one choice, one free text, and 5 sectors to rate.
    assert journey.minutes_to_complete(steps) == math.ceil((35 * 10 + 12 + 60 + 5 * 20) / 60)
    assert journey.minutes_to_complete(steps, len(steps) - 1) == math.ceil(2 * 20 / 60)
