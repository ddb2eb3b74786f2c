"""The results pages (analysis/routes.py): choosing waves, what each page shows, what it
withholds, and that pages, downloads and the command line give the same numbers.

Kept apart from tests/analysis, which tests the pure library without an app."""

import csv
from datetime import timedelta
import io
import json
import shlex

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from sqlalchemy import delete, select

from analysis.cli import compare_command
from analysis.disclosure import WITHHELD
from core.models import Role, Sector
from surveys import service as survey_service
from surveys.models import Answer, Response


@pytest.fixture
def survey(make_answered_survey, make_place):
    return make_answered_survey(places=[make_place()], per_sector=[14, 12, 3],
                                sector_names=["Health", "<b>Housing</b>", "Faith"])


@pytest.fixture
def evaluator(make_user, login):
    user = make_user(Role.EVALUATOR)
    login(user)
    return user


def page(response):
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def read_csv(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def query(survey, **extra):
    first, second = survey.waves[0], survey.waves[1]
    return {"reference": first.id, "current": second.id, "baseline": "", "place": "", **extra}


def test_the_comparison_page_defaults_to_the_latest_two_waves(client, survey, evaluator):
    html = page(client.get(f"/analysis/surveys/{survey.id}"))
    assert html.select_one("#reference option[selected]").text.startswith(survey.waves[0].label)
    assert html.select_one("#current option[selected]").text.startswith(survey.waves[1].label)
    rows = html.select("#constructs tbody tr")
    assert len(rows) == 11  # every construct of the coordination instrument
    words = {row.select_one(".holdfast-verdict").get_text(" ", strip=True) for row in rows}
    assert words <= {"▲ Improving", "✔ Holding", "✖ Slipping", "? Can't tell yet", "– Too few responses"}
    link = rows[0].select_one("a")["href"]
    assert f"/analysis/surveys/{survey.id}/constructs/" in link and "reference=" in link


def test_the_page_the_download_and_the_command_line_give_the_same_numbers(client, survey, evaluator, tmp_path):
    downloaded = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey)))
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey)))
    # The page offers the raw files and the command that reproduces it.
    for part in ("responses", "codebook"):
        href = html.select_one(f"a[href$='/export/{part}.csv']")["href"]
        (tmp_path / f"{part}.csv").write_bytes(client.get(href).data)
    command = shlex.split(html.select_one(".holdfast-command").text)
    arguments = command[command.index("compare") + 1:]
    arguments[0] = str(tmp_path / "responses.csv")
    arguments[arguments.index("--codebook") + 1] = str(tmp_path / "codebook.csv")
    result = CliRunner().invoke(compare_command, arguments)
    assert result.exit_code == 0, result.output
    cli = {c["construct"]: c for c in json.loads(result.stdout)["constructs"]}
    shown = {row.select_one("th").get_text(strip=True): row for row in html.select("#constructs tbody tr")}
    assert [row["construct"] for row in downloaded] == list(cli)
    for row in downloaded:
        expected = cli[row["construct"]]
        assert row["verdict"] == expected["verdict"]
        assert float(row["margin"]) == expected["margin"]
        assert float(row["difference"]) == pytest.approx(expected["difference"], abs=1e-4)
        assert float(row["ci90_low"]) == pytest.approx(expected["ci90"][0], abs=1e-4)
        assert int(row["current_n"]) == expected["current"]["n"]
        assert float(row["p_noninferior_adj"]) == pytest.approx(expected["p_noninferior_adj"], abs=1e-4)
    trust = shown["Trust"]
    assert f"{cli['trust']['difference']:+.2f}".replace("-", "−") in trust.get_text()


def test_choosing_the_same_wave_twice_is_an_error_in_plain_english(client, survey, evaluator):
    wave = survey.waves[0].id
    response = client.get(f"/analysis/surveys/{survey.id}", query_string={"reference": wave, "current": wave})
    html = page(response)
    assert html.title.text.startswith("Error: ")
    summary = html.select_one(".govuk-error-summary")
    assert "Select a current wave that is not the reference wave" in summary.text
    assert summary.select_one("a")["href"] == "#current"
    assert not html.select("#constructs")
    bad = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey, place="999999", baseline="x")))
    assert "Select a place from the list" in bad.text and "Select a baseline wave from the list" in bad.text


def test_a_survey_with_one_answered_wave_explains_why_nothing_is_compared(client, make_answered_survey, evaluator):
    survey = make_answered_survey(wave_count=1, per_sector=5)
    html = page(client.get(f"/analysis/surveys/{survey.id}"))
    assert "A comparison needs two waves with responses" in html.text
    assert client.get(f"/analysis/surveys/{survey.id}/trust").status_code == 404


def test_the_construct_page_withholds_small_sectors_and_escapes_names(client, survey, evaluator):
    html = page(client.get(f"/analysis/surveys/{survey.id}/constructs/trust", query_string=query(survey)))
    assert html.h1.text == "Trust"
    sectors = {row.th.text: row for row in html.select("#sectors tbody tr")}
    assert "Fewer than 5 responses" in sectors["Faith"].text
    assert not sectors["Faith"].select(".holdfast-verdict")
    assert "<b>Housing</b>" in sectors  # shown as text, never as markup
    assert "<b>Housing</b>" not in client.get(
        f"/analysis/surveys/{survey.id}/constructs/trust", query_string=query(survey)).get_data(as_text=True)
    trust_items = [i for i in survey.waves[-1].instrument.items if i.construct and i.construct.code == "trust"]
    assert len(html.select("#items tbody tr")) == len(trust_items) >= 3
    assert [row.th.text for row in html.select("#trend tbody tr")] == [w.label for w in survey.waves]
    downloaded = {row["group"]: row for row in read_csv(
        client.get(f"/analysis/surveys/{survey.id}/constructs/trust/sectors.csv", query_string=query(survey)))}
    assert downloaded["Faith"]["withheld"] == "fewer than 5 responses"
    assert downloaded["Faith"]["reference_mean"] == "" and downloaded["Faith"]["current_n"] == ""
    assert downloaded["Health"]["current_n"] == "14"
    items = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/items.csv", query_string=query(survey)))
    assert {row["construct"] for row in items} == {"trust"} and all(0 <= float(r["prob_superiority"]) <= 1 for r in items)
    trend = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/trend.csv", query_string=query(survey)))
    assert [row["n"] for row in trend] == ["29", "29"]
    chart = client.get(f"/analysis/surveys/{survey.id}/constructs/trust/trend.svg", query_string=query(survey))
    assert chart.mimetype == "image/svg+xml" and b"<svg" in chart.data
    assert client.get(f"/analysis/surveys/{survey.id}/constructs/nothing", query_string=query(survey)).status_code == 404


def test_the_trust_network_withholds_blocks_under_k_raters(client, survey, evaluator):
    html = page(client.get(f"/analysis/surveys/{survey.id}/trust", query_string=query(survey)))
    first = html.select_one("#trust-1")
    rows = {row.th.text: row for row in first.select("tbody tr")}
    assert "Fewer than 5 responses" in rows["Faith"].text  # 3 raters a wave
    assert rows["Health"].select(".holdfast-withheld") == []
    assert "Density" in html.text
    blocks = read_csv(client.get(f"/analysis/surveys/{survey.id}/trust.csv", query_string=query(survey)))
    faith = [b for b in blocks if b["rater"] == "Faith"]
    assert faith and all(b["mean"] == "" and b["raters"] == "fewer than 5 responses" for b in faith)
    shown = [b for b in blocks if b["rater"] == "Health"]
    assert all(1 <= float(b["mean"]) <= 4 and b["raters"] == "14" for b in shown)
    changes = read_csv(client.get(f"/analysis/surveys/{survey.id}/trust-changes.csv", query_string=query(survey)))
    assert changes and not any(c["rater"] == "Faith" for c in changes)
    moves = [abs(float(c["difference"])) for c in changes]
    assert moves == sorted(moves, reverse=True)


def test_formula_like_names_are_made_safe_in_downloads(client, make_answered_survey, evaluator):
    survey = make_answered_survey(per_sector=[6, 6], sector_count=2, sector_names=["=HYPERLINK(1)", "Health"])
    rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/sectors.csv", query_string=query(survey)))
    assert {row["group"] for row in rows} == {"'=HYPERLINK(1)", "Health"}


def test_coordinators_see_only_their_places_surveys(client, survey, make_user, make_place, login):
    login(make_user(Role.COORDINATOR, places=[make_place()]))
    assert client.get(f"/analysis/surveys/{survey.id}").status_code == 403
    assert client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey)).status_code == 403
    assert survey.name not in client.get("/analysis/").get_data(as_text=True)


def test_choosing_a_place_compares_only_its_responses(client, make_answered_survey, make_place, evaluator):
    here, elsewhere = make_place(), make_place()
    survey = make_answered_survey(places=[here, elsewhere], per_sector=12)
    only_here = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey, place=here.id)))
    assert only_here[0]["current_n"] == "36"
    nobody = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey, place=elsewhere.id)))
    assert f"Nobody from {elsewhere.name} answered" in nobody.text and not nobody.select("#constructs")
    assert client.get(f"/analysis/surveys/{survey.id}/constructs.csv",
                      query_string=query(survey, place=elsewhere.id)).status_code == 404


def test_how_to_read_is_for_every_signed_in_role(client, make_user, login):
    login(make_user(Role.FACILITATOR))
    html = page(client.get("/analysis/how-to-read"))
    assert "“No evidence of a fall” is not “no change”" in html.text


def test_a_sector_page_shows_the_same_figures_as_the_construct_pages(client, survey, evaluator):
    construct_page = page(client.get(f"/analysis/surveys/{survey.id}/constructs/trust", query_string=query(survey)))
    link = next(a["href"] for a in construct_page.select("#sectors tbody th a") if a.text == "Health")
    html = page(client.get(link))
    assert html.h1.text == "Health"
    rows = {row.th.text: row for row in html.select("#sector-constructs tbody tr")}
    assert len(rows) == 11
    on_construct_page = next(r for r in construct_page.select("#sectors tbody tr") if r.th.text == "Health")
    assert rows["Trust"].select("td")[3].text == on_construct_page.select("td")[3].text
    faith = read_csv(client.get(f"/analysis/surveys/{survey.id}/sectors/Faith.csv", query_string=query(survey)))
    assert len(faith) == 11 and all(row["withheld"] == "fewer than 5 responses" for row in faith)
    assert client.get(f"/analysis/surveys/{survey.id}/sectors/Nobody", query_string=query(survey)).status_code == 404


@pytest.mark.parametrize("value, places, signed, text", [
    (-0.001, 2, True, "+0.00"), (-0.5, 2, True, "−0.50"), (0.25, 2, False, "0.25"), (None, 2, False, "–"),
    ("fewer than 5 responses", 2, False, "fewer than 5 responses"),
])
def test_numbers_read_well(value, places, signed, text):
    from analysis.routes import number
    assert number(value, places, signed) == text


def test_p_values_are_floored_at_a_thousandth():
    from analysis.routes import p_value
    assert (p_value(0.0000001), p_value(0.0412), p_value(None)) == ("< 0.001", "0.041", "–")


def test_a_sector_with_a_slash_in_its_name_opens(client, make_answered_survey, evaluator):
    survey = make_answered_survey(per_sector=[12, 12], sector_count=2,
                                  sector_names=["Mutual aid / community group", "Health"])
    construct_page = page(client.get(f"/analysis/surveys/{survey.id}/constructs/trust", query_string=query(survey)))
    link = next(a["href"] for a in construct_page.select("#sectors tbody th a") if a.text.startswith("Mutual aid"))
    assert page(client.get(link)).h1.text == "Mutual aid / community group"
    download = page(client.get(link)).select_one("a[download]")["href"]
    assert len(read_csv(client.get(download))) == 11


def add_responses(db_session, survey, place, sector_name, n, waves=None, organisations=()):
    """n more responses in each wave (or these waves) from one place, answering every likert
    question, as if they arrived before the wave closed (a later one is a change after
    closing, withheld by its own rule); naming these organisations in turn, else none."""
    sector = db_session.scalar(select(Sector).where(Sector.name == sector_name))
    for wave in waves or survey.waves:
        for i in range(n):
            answers = {item.code: 3 for item in wave.instrument.items if item.type == "likert"}
            answers.update({item.code: {str(sector.id): {"reliable": 2, "shared_mission": 2, "open": 2}}
                            for item in wave.instrument.items if item.type == "trust_matrix"})
            organisation = organisations[i % len(organisations)].id if organisations else None
            respondent = survey_service.Respondent(sector.id, place.id, organisation)
            arrived = wave.closes_at - timedelta(hours=1) if wave.closes_at else None
            survey_service.insert_response(db_session, wave, respondent, answers, f"extra-{wave.id}-{place.id}-{i}",
                                           arrived)
    db_session.flush()


def test_a_place_is_withheld_where_all_places_less_it_would_reveal_another(
        client, make_answered_survey, make_place, evaluator, db_session):
    big, small = make_place(), make_place()
    survey = make_answered_survey(places=[big, small], per_sector=12, sector_names=["Health", "Funder", "Housing"])
    add_responses(db_session, survey, small, "Health", 3)  # 3 a wave in the small place
    small_only = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv",
                                     query_string=query(survey, place=small.id)))
    assert all(row["withheld"] == "fewer than 5 responses" and row["difference"] == "" for row in small_only)
    # The wave's number of responses is public (39), and everyone answered every
    # construct, so all places' figures are public too: the big place's are what is
    # withheld (all places less it would give the small one away), on every page of
    # every wave.
    everywhere = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey)))
    assert all(row["withheld"] == "" and row["current_n"] == "39" for row in everywhere)
    big_only = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv",
                                   query_string=query(survey, place=big.id)))
    assert all(row["withheld"] == WITHHELD and row["current_n"] == WITHHELD and row["current_mean"] == ""
               for row in big_only)
    trend = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/trend.csv",
                                query_string=query(survey, place=big.id)))
    assert all(row["withheld"] == WITHHELD and row["mean"] == "" for row in trend)
    # In the big place, Health (which would give the small place's Health away) and the
    # next smallest sector are withheld; their trust blocks go with them, Housing's stay.
    blocks = read_csv(client.get(f"/analysis/surveys/{survey.id}/trust.csv", query_string=query(survey, place=big.id)))
    health = [b for b in blocks if b["rater"] == "Health" and b["target"] == "Health"]
    assert health and all(b["mean"] == "" and b["withheld"] == WITHHELD for b in health)
    housing = [b for b in blocks if b["rater"] == "Housing" and b["target"] == "Health"]
    assert housing and all(b["mean"] != "" for b in housing)
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey, place=big.id)))
    assert "Withheld so a smaller group cannot be worked out" in html.select_one("#constructs").text


def test_questions_follow_the_organisation_rule_of_their_construct(client, make_answered_survey, evaluator):
    survey = make_answered_survey(per_sector=[15], sector_count=1, organisations_per_sector=1)
    constructs = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey)))
    assert all(row["withheld"] == "fewer than 3 organisations" for row in constructs)
    items = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/items.csv", query_string=query(survey)))
    assert items and all(row["withheld"] == "fewer than 3 organisations" and row["prob_superiority"] == ""
                         for row in items)


def test_a_survey_without_trust_questions_says_so(client, make_answered_survey, evaluator):
    survey = make_answered_survey(per_sector=6, template="participation")
    html = page(client.get(f"/analysis/surveys/{survey.id}/trust", query_string=query(survey)))
    assert "asks no trust questions" in html.text
    assert read_csv(client.get(f"/analysis/surveys/{survey.id}/trust.csv", query_string=query(survey))) == []


def test_a_sector_that_skipped_a_construct_is_withheld_not_an_error(client, make_answered_survey, evaluator, db_session):
    survey = make_answered_survey(per_sector=12, sector_names=["Health", "Funder", "Housing"])
    trust_items = [i.code for i in survey.waves[0].instrument.items if i.construct and i.construct.code == "trust"]
    housing = db_session.scalar(select(Sector.id).where(Sector.name == "Housing"))
    db_session.execute(delete(Answer).where(Answer.item_code.in_(trust_items), Answer.response_id.in_(
        select(Response.id).where(Response.sector_id == housing))))
    db_session.flush()
    rows = {row["group"]: row for row in read_csv(client.get(
        f"/analysis/surveys/{survey.id}/constructs/trust/sectors.csv", query_string=query(survey)))}
    assert rows["Housing"]["withheld"] == "fewer than 5 responses" and rows["Health"]["withheld"] == ""
    assert page(client.get(f"/analysis/surveys/{survey.id}/sectors/Housing", query_string=query(survey))).h1.text == "Housing"


def test_waves_must_be_in_order(client, survey, evaluator):
    first, second = survey.waves[0].id, survey.waves[1].id
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string={"reference": second, "current": first}))
    assert "Select a current wave that came after the reference wave" in html.select_one(".govuk-error-summary").text
    assert html.select_one("#reference option[selected]")["value"] == str(second)  # the choice is kept


def test_odd_wave_labels_are_quoted_in_the_command_and_plain_in_charts(client, survey, evaluator, db_session):
    survey.waves[1].label = 'Spring $5 and $(rm -rf x) "quoted"'
    db_session.flush()
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey)))
    command = shlex.split(html.select_one(".holdfast-command").text)
    assert command[command.index("--current") + 1] == survey.waves[1].label
    chart = client.get(f"/analysis/surveys/{survey.id}/constructs/trust/trend.svg", query_string=query(survey))
    assert chart.status_code == 200 and b"Spring $5 and $(rm -rf x)" in chart.data


def test_wording_changed_is_judged_between_the_two_waves_compared(client, make_answered_survey, evaluator, db_session):
    survey = make_answered_survey(per_sector=6, wave_count=3)
    reworded = next(i for i in survey.waves[2].instrument.items if i.code == "tr_1")
    reworded.text = "A reworded question about trust."
    db_session.flush()
    first, second, third = (w.id for w in survey.waves)

    def tr_1(reference, current):
        rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/items.csv",
                                   query_string={"reference": reference, "current": current}))
        return next(row for row in rows if row["item"] == "tr_1")["breaks_trend"]

    assert tr_1(first, second) == "False"
    assert tr_1(second, third) == "True"


def test_a_place_with_a_baseline_compares_beside_a_place_without_one(
        client, make_answered_survey, make_place, make_organisation, evaluator, db_session):
    big, newcomer = make_place(), make_place()
    survey = make_answered_survey(places=[big, newcomer], per_sector=12, wave_count=3)
    health = db_session.scalar(select(Sector).where(Sector.name == "Health and care"))
    organisations = [make_organisation(place=newcomer, sector=health) for _ in range(3)]
    add_responses(db_session, survey, newcomer, "Health and care", 12, waves=survey.waves[1:],  # joined after the baseline
                  organisations=organisations)
    first, second, third = survey.waves
    rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string={
        "reference": second.id, "current": third.id, "baseline": first.id, "place": big.id}))
    assert rows and all(row["withheld"] == "" and row["gain_retained"] in ("True", "False") for row in rows)


def test_every_interval_beside_a_verdict_agrees_with_it_on_pages_and_downloads(client, make_answered_survey, evaluator):
    """The audit's finding: an unadjusted interval excluding a fall beside "can't tell
    yet". Every row of the headline and of every sector table, on the page and in the
    CSV, now shows the interval its verdict is read off."""
    from analysis.compare import read_verdict

    survey = make_answered_survey(per_sector=[30, 24, 40, 12], sector_count=4, seed=5)
    base = f"/analysis/surveys/{survey.id}"
    rows = read_csv(client.get(f"{base}/constructs.csv", query_string=query(survey)))
    for construct in [row["construct"] for row in rows]:
        rows += read_csv(client.get(f"{base}/constructs/{construct}/sectors.csv", query_string=query(survey)))
    checked = 0
    for row in rows:
        if row["verdict"] == "too_few" or not row["ci_simultaneous_low"]:
            continue
        margin = float(row["margin"]) if row.get("margin") else 0.25
        interval = (float(row["ci_simultaneous_low"]), float(row["ci_simultaneous_high"]))
        assert read_verdict(*interval, margin)[0] == row["verdict"]
        assert interval[0] <= float(row["ci90_low"]) and float(row["ci90_high"]) <= interval[1]
        checked += 1
    assert checked > 20
    html = page(client.get(base, query_string=query(survey)))
    assert "interval the verdict is read from" in html.select_one("#constructs thead").get_text()


def test_a_late_import_is_shown_and_a_group_it_changed_by_a_few_stays_withheld(
        client, make_answered_survey, make_user, login, db_session):

    survey = make_answered_survey(per_sector=[14, 12, 20], sector_names=["Health", "Funder", "Housing"])
    first = survey.waves[0]
    funder = db_session.scalar(select(Sector).where(Sector.name == "Funder"))
    answers = {item.code: 3 for item in first.instrument.items if item.type == "likert"}
    for i in range(2):  # an admin's import two days after the wave closed
        survey_service.insert_response(db_session, first, survey_service.Respondent(funder.id, survey.places[0].id),
                                       answers, f"late-{i}", first.closes_at + timedelta(days=2))
    db_session.flush()
    coordinator = make_user(Role.COORDINATOR, places=survey.places)
    login(coordinator)
    assert client.get(f"/waves/{first.id}/import").status_code == 403  # closed: admins only
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey)))
    assert "Responses to Wave 1 changed after closing on" in html.select_one("#late-changes").text
    sectors = {row["group"]: row for row in read_csv(client.get(
        f"/analysis/surveys/{survey.id}/constructs/trust/sectors.csv", query_string=query(survey)))}
    assert sectors["Funder"]["withheld"] == "changed by fewer than 5 responses after the wave closed"
    client.post("/sign-out")
    login(make_user(Role.ADMIN))
    assert client.get(f"/waves/{first.id}/import").status_code == 200


def test_an_open_wave_shows_no_results_so_padding_it_reveals_nothing(
        client, make_answered_survey, evaluator, db_session):
    """The pen-test padded an open wave's small group with open-link answers and read the
    originals off the new mean. Open waves now show counts only: no page computes them."""
    from surveys.models import WaveRole

    survey = make_answered_survey(per_sector=[14, 12, 20], sector_names=["Health", "Funder", "Housing"])
    third = survey_service.clone_wave(db_session, survey, "Wave 3", WaveRole.FOLLOW_UP)
    survey_service.open_wave(db_session, third, actor=None)
    add_responses(db_session, survey, survey.places[0], "Funder", 12, waves=[third])
    html = page(client.get(f"/analysis/surveys/{survey.id}"))
    assert "Wave 3" not in html.select_one("#current").text  # not offered
    chosen = query(survey, current=third.id)
    assert client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=chosen).status_code == 404
    assert client.get(f"/analysis/surveys/{survey.id}/constructs/trust/trend.csv",
                      query_string=query(survey)).get_data(as_text=True).count("Wave 3") == 0
