"""Shared fixtures: the app on one database (PostgreSQL when TEST_DATABASE_URL is set,
else SQLite; both for tests marked both_backends), a per-test rolled-back session, data
built once per worker, a client, factories and a login helper. tests/README.md explains."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from app import create_app
from core.cli import upgrade_database
from core.db import make_engine
from core.demo import load_demo_data
from core.models import Organisation, Place, Role, Sector, User
from surveys import service as survey_service
from surveys.demo import load_demo_surveys
from surveys.models import AnonymityMode, Survey, WaveRole

TEST_PASSWORD = "correct horse battery"
# A cheap hash so factories stay fast; the real scrypt path is tested on its own.
TEST_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# Every database test runs once, on PostgreSQL (production's database) when it is
# configured, else on SQLite. Tests marked both_backends, whose behaviour differs by
# database, run on every backend available (tests/README.md lists them and why).
BACKEND = "postgresql" if TEST_DATABASE_URL else "sqlite"
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
# "gw0", "gw1", ... under pytest-xdist; one name for a run without it.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_redis_url(url: str | None) -> str | None:
    """TEST_REDIS_URL for this worker: worker n uses database number N - n (N is the
    URL's), so workers never share one; give the highest number of a range you own."""
    if not url:
        return None
    parsed = urlsplit(url)
    number = int(parsed.path.strip("/") or 0) - int(WORKER[2:] if WORKER.startswith("gw") else 0)
    if number < 0:
        raise RuntimeError(f"TEST_REDIS_URL {url}: too few Redis databases below it for worker {WORKER}")
    return urlunsplit(parsed._replace(path=f"/{number}"))


TEST_REDIS_URL = worker_redis_url(os.environ.get("TEST_REDIS_URL"))

# Example counts belong to the profile, not to the tests: `dev` (the default, and `make
# check`) for a quick loop, `ci` (`make test`, CI) at least as many as each test ever asked
# for. Chosen by HYPOTHESIS_PROFILE, read here so COSTLY_EXAMPLES follows it.
settings.register_profile("dev", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
# For properties whose every example is a whole comparison or an import through the
# database: a third of the profile's examples (100 on ci, more than any of them had).
COSTLY_EXAMPLES = settings(max_examples=settings.default.max_examples // 3)


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


class Databases:
    """This worker's test databases. Each backend gets one migrated template, made the
    first time it is needed; every other database is a copy of it (a file copy on
    SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so the migrations run once per
    worker and backend rather than once per test. PostgreSQL databases are named after
    TEST_DATABASE_URL's database, this worker and their use, and dropped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.templates: dict[str, str] = {}
        self.apps: dict[tuple[str, str], tuple[Flask, object]] = {}
        self.created: list[str] = []

    def _postgres(self, statement: str) -> None:
        engine = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def _postgres_url(self, name: str) -> str:
        return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)

    def _template(self, backend: str) -> str:
        if backend not in self.templates:
            if backend == "sqlite":
                name = str(self.folder / "template.db")
                url = f"sqlite:///{name}"
            else:
                name = f"{make_url(TEST_DATABASE_URL).database}_{WORKER}_template"
                self._postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                self._postgres(f'CREATE DATABASE "{name}"')
                self.created.append(name)
                url = self._postgres_url(name)
            engine = make_engine(url)
            upgrade_database(engine)
            engine.dispose()  # a template must have no connection while it is copied
            self.templates[backend] = name
        return self.templates[backend]

    def copy(self, backend: str, use: str, folder: Path | None = None) -> str:
        """A new database, migrated and empty (a previous one of this use is replaced)."""
        template = self._template(backend)
        if backend == "sqlite":
            path = (folder or self.folder) / f"{use}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        name = f"{make_url(TEST_DATABASE_URL).database}_{WORKER}_{use}"
        self._postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._postgres(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        if name not in self.created:
            self.created.append(name)
        return self._postgres_url(name)

    def app(self, backend: str, dataset: Callable[[Session], object] | None = None) -> tuple[Flask, object]:
        """The app on `backend`'s shared test database, or on one holding `dataset`
        (built and committed once; tests roll back their own work on top of it), with
        what the dataset's builder returned."""
        use = dataset.__name__ if dataset else "shared"
        if (backend, use) not in self.apps:
            app = create_app(base_test_config(self.copy(backend, use)))
            built = None
            if dataset:
                with app.extensions["db_sessionmaker"]() as session:
                    built = dataset(session)
                    session.commit()
            self.apps[backend, use] = app, built
        return self.apps[backend, use]

    def close(self) -> None:
        for app, _ in self.apps.values():
            app.extensions["db_engine"].dispose()
        for name in reversed(self.created):
            self._postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[Databases]:
    found = Databases(tmp_path_factory.mktemp("databases"))
    yield found
    found.close()


def pytest_generate_tests(metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The database this test runs on: BACKEND, or each of BACKENDS for a test marked
    both_backends. Recorded on the test's report for the summary's PostgreSQL count."""
    name = getattr(request, "param", BACKEND)
    request.node.user_properties.append(("backend", name))
    return name


@pytest.fixture
def app(request, databases: Databases, backend: str) -> Flask:
    """The app on this worker's shared test database for the backend (or on the test's
    dataset's). Tests never commit to it: `db_session` rolls every change back."""
    marker = request.node.get_closest_marker("dataset")
    return databases.app(backend, marker.args[0] if marker else None)[0]


@pytest.fixture
def dataset(request, databases: Databases, backend: str):
    """What the test's `dataset` marker's builder returned (ids: read them in db_session)."""
    marker = request.node.get_closest_marker("dataset")
    if marker is None:
        pytest.fail("this test needs prebuilt data: mark it with pytest.mark.dataset.with_args(builder)")
    return databases.app(backend, marker.args[0])[1]


def demo_surveys(session: Session) -> list[int]:
    """A dataset builder (pytest.mark.dataset.with_args(demo_surveys)): the demo, with its
    three places' surveys of three closed waves of 250 responses; their ids."""
    load_demo_data(session)
    return [survey.id for survey in load_demo_surveys(session, "demo-secret")]


@pytest.fixture
def demo(db_session: Session, dataset) -> list[Survey]:
    """The demo's surveys, for a test marked with the demo_surveys dataset."""
    return [db_session.get(Survey, survey_id) for survey_id in dataset]


@pytest.fixture
def database_url(app: Flask) -> str:
    return app.config["DATABASE_URL"]


@pytest.fixture
def committing_app(request, databases: Databases, backend: str, tmp_path) -> Iterator[Flask]:
    """An app on a fresh database of its own, for tests whose work must really commit
    (concurrency); nothing is rolled back, so it never shares the suite's database.
    Committing work is how transactions, locks and races differ between databases, so
    its tests must be marked both_backends."""
    if not request.node.get_closest_marker("both_backends"):
        pytest.fail("a test on committing_app must be marked both_backends")
    committing = create_app(base_test_config(databases.copy(backend, "committing", tmp_path)))
    yield committing
    committing.extensions["db_engine"].dispose()


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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    """The longest work first, so no worker is left with it at the end while the others
    wait (xdist hands tests out in this order): the browser tests, which one worker runs
    together, then the slow ones; the rest as collected. No test depends on the order."""
    def weight(item) -> int:
        return 0 if item.get_closest_marker("e2e") else 1 if item.get_closest_marker("slow") else 2

    items.sort(key=weight)


def pytest_report_header(config) -> str:
    return f"holdfast database: {BACKEND}; tests marked both_backends run on {', '.join(BACKENDS)}"


def pytest_terminal_summary(terminalreporter) -> None:
    """Say plainly how many PostgreSQL and browser tests passed, so a skip cannot hide.
    A test counts as on PostgreSQL when its database was (see the backend fixture)."""
    passed = terminalreporter.stats.get("passed", [])
    lines = {
        "on PostgreSQL": sum(("backend", "postgresql") in report.user_properties for report in passed),
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
