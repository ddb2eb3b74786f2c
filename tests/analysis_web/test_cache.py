"""The results cache (analysis/routes.py, CachedResults): cached pages show the figures
computed afresh; any change to what the figures come from moves the key; nobody without
access gets as far as a lookup; charts draw from their page's cached figures; the store
is files or Redis, never process memory, and a store that fails costs speed, not pages."""

import uuid

from datetime import timedelta

import pytest
from cachelib import FileSystemCache, RedisCache
from sqlalchemy import select, update

import analysis.routes as routes
from core.models import Organisation, Role, Sector
from surveys import service as survey_service
from surveys.models import Response
from tests.analysis_web.test_routes import page, query, read_csv
from tests.conftest import TEST_REDIS_URL, sign_in


@pytest.fixture
def survey(make_answered_survey, make_place):
    return make_answered_survey(places=[make_place()], per_sector=[14, 12, 6],
                                sector_names=["Health", "Funder", "Housing"])


@pytest.fixture
def evaluator(make_user, login):
    user = make_user(Role.EVALUATOR)
    login(user)
    return user


@pytest.fixture
def analyses(monkeypatch) -> list:
    """Every analysis of a selection made from the responses (Results built), in order."""
    made = []

    class Counted(routes.Results):
        def __init__(self, *args, **kwargs):
            made.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(routes, "Results", Counted)
    return made


def figures(response) -> list[str]:
    """The tables and the chart of a page, as shown."""
    html = page(response)
    return [str(element) for element in html.select("main table, main img")]


def constructs(client, survey, **extra) -> dict[str, dict]:
    rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv", query_string=query(survey, **extra)))
    return {row["construct"]: row for row in rows}


def sectors(client, survey, construct: str = "trust") -> dict[str, dict]:
    rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/{construct}/sectors.csv",
                               query_string=query(survey)))
    return {row["group"]: row for row in rows}


def pages(survey) -> list[str]:
    base = f"/analysis/surveys/{survey.id}"
    return [base, f"{base}/constructs/trust", f"{base}/sectors/Health", f"{base}/trust"]


def test_cached_pages_show_the_figures_computed_afresh_without_computing_again(client, survey, evaluator, analyses):
    arguments = query(survey)
    fresh = {path: figures(client.get(path, query_string=arguments)) for path in pages(survey)}
    assert analyses, "the first views compute"
    del analyses[:]
    for path in pages(survey):
        assert figures(client.get(path, query_string=arguments)) == fresh[path], path
    assert analyses == [], "a cached page reads no responses and analyses nothing"
    # The same figures as a page that was never cached, from a cache emptied under it.
    with client.application.app_context():
        routes.cache.clear()
    assert figures(client.get(pages(survey)[1], query_string=arguments)) == fresh[pages(survey)[1]]


def test_charts_draw_from_their_pages_cached_figures(client, survey, evaluator, analyses, monkeypatch):
    arguments = query(survey)
    client.get(f"/analysis/surveys/{survey.id}", query_string=arguments)
    client.get(f"/analysis/surveys/{survey.id}/constructs/trust", query_string=arguments)
    drawn = []
    change_svg = routes.charts.change_svg
    monkeypatch.setattr(routes.charts, "change_svg", lambda rows, names: drawn.append(rows) or change_svg(rows, names))
    del analyses[:]
    for chart in ("change.svg", "constructs/trust/trend.svg"):
        response = client.get(f"/analysis/surveys/{survey.id}/{chart}", query_string=arguments)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert analyses == [], "the charts reuse the figures their pages computed"
    shown = constructs(client, survey)
    assert [row["construct"] for row in drawn[0]] == list(shown)
    # Drawn once, then kept as drawn.
    assert client.get(f"/analysis/surveys/{survey.id}/change.svg", query_string=arguments).status_code == 200
    assert len(drawn) == 1


def test_which_figures_are_withheld_is_decided_once_for_every_view(client, survey, evaluator, monkeypatch):
    """The decision is over the whole survey, whichever waves or place a page shows: a
    second view, not cached itself, reuses it rather than deciding again."""
    decided = []
    decide_in_turn = routes.decide_in_turn
    monkeypatch.setattr(routes, "decide_in_turn", lambda *a, **kw: decided.append(1) or decide_in_turn(*a, **kw))
    base = f"/analysis/surveys/{survey.id}"
    client.get(base, query_string=query(survey))
    assert decided == [1]
    for path in (f"{base}/constructs/trust", f"{base}/sectors/Health"):
        assert client.get(path, query_string=query(survey, place=survey.places[0].id)).status_code == 200
    assert decided == [1]


def test_a_wave_closed_again_later_moves_the_key(client, survey, evaluator, db_session):
    """When a wave closed decides which responses came late (withheld as a new version)."""
    with client.application.test_request_context():
        before = routes.data_version(survey)
        survey.waves[1].closes_at += timedelta(days=1)
        db_session.flush()
        assert routes.data_version(survey) != before


def test_a_new_response_moves_the_key(client, survey, evaluator, db_session):
    before = constructs(client, survey)
    wave = survey.waves[1]
    health = db_session.scalar(select(Sector.id).where(Sector.name == "Health"))
    answers = {item.code: 1 for item in wave.instrument.items if item.type == "likert"}
    # Arrived before the wave closed (a response after closing would be withheld as a
    # change of fewer than k, which tests/analysis_web/test_routes.py covers).
    survey_service.insert_response(db_session, wave, survey_service.Respondent(health, survey.places[0].id, None),
                                   answers, "one-more", wave.closes_at - timedelta(hours=1))
    db_session.flush()
    after = constructs(client, survey)
    assert int(after["trust"]["current_n"]) == int(before["trust"]["current_n"]) + 1
    assert after["trust"]["current_mean"] != before["trust"]["current_mean"]


def test_a_response_removed_and_another_given_its_id_moves_the_key(client, survey, evaluator, db_session):
    """An import undone and another made: on SQLite the new response may reuse the id."""
    before = constructs(client, survey)
    wave = survey.waves[1]
    last = db_session.scalar(select(Response).where(Response.wave_id == wave.id).order_by(Response.id.desc()).limit(1))
    respondent = survey_service.Respondent(last.sector_id, last.place_id, last.organisation_id)
    submitted_at = last.submitted_at - timedelta(seconds=1)  # another moment, but before the wave closed
    db_session.delete(last)
    db_session.flush()
    answers = {item.code: 1 for item in wave.instrument.items if item.type == "likert"}
    survey_service.insert_response(db_session, wave, respondent, answers, "in-its-place", submitted_at)
    db_session.flush()
    after = constructs(client, survey)
    assert after["trust"]["current_n"] == before["trust"]["current_n"]
    assert after["trust"]["current_mean"] != before["trust"]["current_mean"]


def test_a_margin_or_threshold_change_moves_the_key(client, survey, evaluator, db_session):
    before, by_sector = constructs(client, survey), sectors(client, survey)
    assert by_sector["Funder"]["withheld"] == ""
    trust = next(m for m in survey.margins if m.construct.code == "trust")
    survey_service.update_settings(
        db_session, survey, evaluator, survey_service.AnonymityMode(survey.anonymity), survey.k_internal,
        survey.k_briefing, survey.min_organisations, {trust.construct_id: 0.6})
    after = constructs(client, survey)
    assert float(before["trust"]["margin"]) != 0.6 and float(after["trust"]["margin"]) == 0.6
    survey_service.update_settings(
        db_session, survey, evaluator, survey_service.AnonymityMode(survey.anonymity), 13,
        max(13, survey.k_briefing), survey.min_organisations, {})
    assert sectors(client, survey)["Funder"]["withheld"] == "fewer than 13 responses"  # 12 a wave
    assert "fewer than 13" in page(client.get(f"/analysis/surveys/{survey.id}/trust",
                                              query_string=query(survey))).text


def test_an_organisation_merged_into_another_moves_the_key(client, survey, evaluator, db_session):
    assert sectors(client, survey)["Health"]["withheld"] == ""
    health = db_session.scalar(select(Sector).where(Sector.name == "Health"))
    kept, merged, _ = db_session.scalars(
        select(Organisation).where(Organisation.sector_id == health.id).order_by(Organisation.id)).all()
    db_session.execute(update(Response).where(Response.organisation_id == merged.id).values(organisation_id=kept.id))
    db_session.delete(merged)
    db_session.flush()
    assert sectors(client, survey)["Health"]["withheld"] == "fewer than 3 organisations"


def test_a_sector_renamed_moves_the_key(client, survey, evaluator, db_session):
    assert "Health" in sectors(client, survey)
    db_session.scalar(select(Sector).where(Sector.name == "Health")).name = "Health (renamed)"
    db_session.flush()
    assert "Health (renamed)" in sectors(client, survey) and "Health" not in sectors(client, survey)


def test_nobody_without_access_reaches_a_lookup(client, survey, make_user, make_place, login, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the cache was consulted before access was checked")

    monkeypatch.setattr(routes, "data_version", forbidden)
    monkeypatch.setattr(routes.cache, "get", forbidden)
    base = f"/analysis/surveys/{survey.id}"
    paths = [base, f"{base}/change.svg", f"{base}/constructs/trust", f"{base}/constructs/trust/trend.svg",
             f"{base}/sectors/Health", f"{base}/trust", f"{base}/constructs.csv"]
    for path in paths:  # signed out: to the sign-in page
        assert client.get(path, query_string=query(survey)).status_code == 302
    login(make_user(Role.COORDINATOR, places=[make_place()]))  # another place's coordinator
    for path in paths:
        assert client.get(path, query_string=query(survey)).status_code == 403, path
    assert client.get("/analysis/surveys/999999").status_code == 404
    facilitator = make_user(Role.FACILITATOR, places=survey.places)
    client.post("/sign-out")
    login(facilitator)
    assert client.get(base).status_code == 403


def test_the_store_is_files_by_default_and_redis_when_configured(app, make_app, tmp_path):
    with app.app_context():
        assert isinstance(routes.cache.cache, FileSystemCache)  # a temporary folder under test
    chosen = make_app(CACHE_DIR=str(tmp_path / "results"))
    with chosen.app_context():
        assert isinstance(routes.cache.cache, FileSystemCache)
        routes.cache.set("probe", [1])
    assert any((tmp_path / "results").iterdir())
    with make_app(CACHE_REDIS_URL="redis://127.0.0.1:1/0").app_context():
        assert isinstance(routes.cache.cache, RedisCache)


def test_the_folder_can_come_from_the_environment(monkeypatch, tmp_path):
    from app import create_app

    for name, value in {"SECRET_KEY": "s", "PANEL_SECRET": "p", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                        "CACHE_DIR": str(tmp_path / "cache"), "CACHE_REDIS_URL": ""}.items():
        monkeypatch.setenv(name, value)
    production = create_app()
    with production.app_context():
        if production.config.get("CACHE_REDIS_URL"):  # set in this checkout's instance/config.py
            assert isinstance(routes.cache.cache, RedisCache)
        else:
            assert isinstance(routes.cache.cache, FileSystemCache)
            assert routes.cache.cache._path == str(tmp_path / "cache")
    production.extensions["db_engine"].dispose()


def test_a_store_that_cannot_be_reached_costs_speed_not_the_page(make_app, make_user, survey, caplog):
    unreachable = make_app(CACHE_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = unreachable.test_client()
    assert sign_in(client, make_user(Role.EVALUATOR)).status_code == 302
    html = page(client.get(f"/analysis/surveys/{survey.id}", query_string=query(survey)))
    assert len(html.select("#constructs tbody tr")) == 11
    assert "results cache: lookup failed" in caplog.text


@pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL to test the Redis results cache")
def test_redis_keeps_the_figures_for_every_worker(make_app, make_user, survey, analyses):
    import redis

    prefix = f"holdfast-test-{uuid.uuid4().hex}:"
    workers = [make_app(CACHE_REDIS_URL=TEST_REDIS_URL, CACHE_KEY_PREFIX=prefix) for _ in range(2)]
    server = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        user = make_user(Role.EVALUATOR)
        first, second = (worker.test_client() for worker in workers)
        for client in (first, second):
            assert sign_in(client, user).status_code == 302
        path = f"/analysis/surveys/{survey.id}/constructs/trust"
        shown = figures(first.get(path, query_string=query(survey)))
        assert analyses and server.keys(prefix + "*")
        del analyses[:]
        assert figures(second.get(path, query_string=query(survey))) == shown  # another worker, same store
        assert analyses == []
    finally:
        for key in server.scan_iter(prefix + "*"):
            server.delete(key)
        server.close()


def test_a_new_engine_version_computes_afresh(client, survey, evaluator, analyses, monkeypatch):
    path = f"/analysis/surveys/{survey.id}"
    client.get(path, query_string=query(survey))
    del analyses[:]
    client.get(path, query_string=query(survey))
    assert analyses == []
    monkeypatch.setattr(routes, "ENGINE_VERSION", "next")
    client.get(path, query_string=query(survey))
    assert analyses, "figures cached by the previous engine are not shown"
