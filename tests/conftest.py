"""Shared fixtures: the app on SQLite (and PostgreSQL when TEST_DATABASE_URL is set),
a per-test rolled-back session, a client, factories and a login helper."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from urllib.parse import quote

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from app import create_app
from core.cli import upgrade_database
from core.models import Organisation, Place, Role, Sector, User
from surveys import service as survey_service
from surveys.models import AnonymityMode, Survey, WaveRole

TEST_PASSWORD = "correct horse battery"
# A cheap hash so factories stay fast; the real scrypt path is tested on its own.
TEST_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")
POSTGRES_TEST_SCHEMA = "holdfast_test"

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def base_test_config(database_url: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "PANEL_SECRET": "test-panel-secret",
        "DATABASE_URL": database_url,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": False,
    }
    config.update(overrides)
    return config


def fresh_postgres_url(schema: str = POSTGRES_TEST_SCHEMA) -> str:
    """The TEST_DATABASE_URL server, in an emptied schema of our own."""
    url = os.environ["TEST_DATABASE_URL"]
    admin_engine = create_engine(url)
    with admin_engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin_engine.dispose()
    parsed = make_url(url)
    options = quote(f"-csearch_path={schema}")
    return parsed.render_as_string(hide_password=False) + ("&" if parsed.query else "?") + f"options={options}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'holdfast-test.db'}"
    return fresh_postgres_url()


@pytest.fixture(params=BACKENDS)
def committing_app(request, tmp_path) -> Iterator[Flask]:
    """An app on a database of its own, for tests whose work must really commit
    (concurrency); nothing is rolled back, so it never shares the suite's database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'committing.db'}"
    else:
        url = fresh_postgres_url("holdfast_committing")
    committing = create_app(base_test_config(url))
    upgrade_database(committing.extensions["db_engine"])
    yield committing
    committing.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(base_test_config(database_url))
    upgrade_database(app.extensions["db_engine"])
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session whose work, and every request's, is rolled back after the test."""
    connection = app.extensions["db_engine"].connect()
    transaction = connection.begin()
    maker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    original_maker = app.extensions["db_sessionmaker"]
    app.extensions["db_sessionmaker"] = maker
    session = maker()
    try:
        yield session
    finally:
        session.close()
        app.extensions["db_sessionmaker"] = original_maker
        transaction.rollback()
        connection.close()


@pytest.fixture
def make_app(database_url: str, db_session: Session) -> Iterator[Callable[..., Flask]]:
    """Another app with different settings, sharing the test's rolled-back connection."""
    apps = []

    def make(**overrides) -> Flask:
        other = create_app(base_test_config(database_url, **overrides))
        other.extensions["db_sessionmaker"] = sessionmaker(
            bind=db_session.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        apps.append(other)
        return other

    yield make
    for other in apps:
        other.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    return app.test_client()


_sequence = itertools.count(1)


@pytest.fixture
def make_place(db_session: Session) -> Callable[..., Place]:
    def make(name: str | None = None, description: str = "") -> Place:
        place = Place(name=name or f"Place {next(_sequence)}", description=description)
        db_session.add(place)
        db_session.flush()
        return place

    return make


@pytest.fixture
def make_sector(db_session: Session) -> Callable[..., Sector]:
    def make(name: str | None = None) -> Sector:
        sector = Sector(name=name or f"Sector {next(_sequence)}", position=100)
        db_session.add(sector)
        db_session.flush()
        return sector

    return make


@pytest.fixture
def make_organisation(db_session, make_place, make_sector) -> Callable[..., Organisation]:
    def make(name: str | None = None, place: Place | None = None, sector: Sector | None = None):
        organisation = Organisation(
            name=name or f"Organisation {next(_sequence)}",
            place=place or make_place(),
            sector=sector or make_sector(),
        )
        db_session.add(organisation)
        db_session.flush()
        return organisation

    return make


@pytest.fixture
def make_user(db_session: Session, make_place) -> Callable[..., User]:
    def make(
        role: Role | str = Role.ADMIN,
        places: list[Place] | None = None,
        email: str | None = None,
        active: bool = True,
        password_hash: str | None = TEST_PASSWORD_HASH,
    ) -> User:
        role = Role(role)
        if places is None:
            places = [make_place()] if role.is_place_scoped else []
        number = next(_sequence)
        user = User(
            email=email or f"{role.value}{number}@example.org",
            name=f"{role.label} {number}",
            role=role.value,
            places=places,
            active=active,
            password_hash=password_hash,
        )
        db_session.add(user)
        db_session.flush()
        return user

    return make


@pytest.fixture
def make_survey(db_session: Session, make_place) -> Callable[..., Survey]:
    """A survey from a built-in template (the default: coordination and trust)."""

    def make(
        places: list[Place] | None = None,
        template: str = "coordination-and-trust",
        anonymity: AnonymityMode = AnonymityMode.ANONYMOUS,
        open_first_wave: bool = False,
    ) -> Survey:
        places = places or [make_place()]
        survey = survey_service.create_survey(
            db_session, f"Survey {next(_sequence)}", "The Partnership", "", template, [p.id for p in places], anonymity
        )
        if open_first_wave:
            survey_service.open_wave(db_session, survey.waves[0], actor=None)
        return survey

    return make


@pytest.fixture
def make_answered_survey(db_session: Session, make_place, make_sector, make_organisation, make_survey):
    """A survey with closed waves of random answers: every sector answers every likert
    question and rates every sector's trust, from three organisations per sector."""

    def make(places: list[Place] | None = None, per_sector: int | list[int] = 12, sector_count: int = 3,
             wave_count: int = 2, seed: int = 1, sector_names: list[str] | None = None,
             organisations_per_sector: int = 3, template: str = "coordination-and-trust") -> Survey:
        rng = np.random.default_rng(seed)
        places = places or [make_place()]
        sectors = [
            (name and db_session.scalar(select(Sector).where(Sector.name == name))) or make_sector(name)
            for name in (sector_names or [None] * sector_count)
        ]
        sizes = dict(zip([s.id for s in sectors], per_sector if isinstance(per_sector, list) else [per_sector] * len(sectors)))
        organisations = {
            s.id: [make_organisation(place=places[0], sector=s) for _ in range(organisations_per_sector)] for s in sectors
        }
        survey = make_survey(places=places, template=template)
        for number in range(1, wave_count + 1):
            wave = survey.waves[0] if number == 1 else survey_service.clone_wave(
                db_session, survey, f"Wave {number}", WaveRole.FOLLOW_UP)
            survey_service.open_wave(db_session, wave, actor=None)
            for sector in sectors:
                for i in range(sizes[sector.id]):
                    answers = {}
                    for item in wave.instrument.items:
                        if item.type == "likert":
                            answers[item.code] = int(rng.integers(2, 6))
                        elif item.type == "trust_matrix":
                            answers[item.code] = {
                                str(target.id): {d: int(rng.integers(1, 5)) for d in ("reliable", "shared_mission", "open")}
                                for target in sectors
                            }
                    organisation = organisations[sector.id][i % organisations_per_sector]
                    respondent = survey_service.Respondent(sector.id, places[0].id, organisation.id)
                    survey_service.insert_response(db_session, wave, respondent, answers, f"test-{wave.id}-{sector.id}-{i}")
            # No grace period for late sends, so its results show as soon as it closes.
            wave.grace_minutes = 0
            survey_service.close_wave(db_session, wave, actor=None)
        db_session.flush()
        return survey

    return make


def sign_in(client: FlaskClient, user: User, password: str = TEST_PASSWORD):
    """Sign in through the real form; returns the response."""
    return client.post("/sign-in", data={"email": user.email, "password": password})


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], None]:
    def do_login(user: User) -> None:
        response = sign_in(client, user)
        assert response.status_code == 302, "sign-in failed in the login helper"

    return do_login


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def pytest_report_header(config) -> str:
    return f"holdfast database backends: {', '.join(BACKENDS)}"


def pytest_terminal_summary(terminalreporter) -> None:
    """Say plainly how many PostgreSQL and browser tests passed, so a skip cannot hide."""
    passed = terminalreporter.stats.get("passed", [])
    lines = {
        "on PostgreSQL": sum("[postgresql" in report.nodeid for report in passed),
        "in the browser (tests/e2e)": sum("tests/e2e/" in report.nodeid for report in passed),
    }
    for where, number in lines.items():
        terminalreporter.write_line(f"holdfast: {number} tests passed {where}")


def statements_during(app, request) -> tuple:
    """The response to `request()` and the SQL the app's engine runs meanwhile."""
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return response, seen
