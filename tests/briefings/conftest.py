"""The demo data (three places, three closed waves each) and an empty results cache for
every test: SQLite hands out the same ids again after a rollback, so figures must never
carry over from another test's data."""

import pytest

from analysis.routes import cache
from core.demo import load_demo_data
from surveys.demo import load_demo_surveys


@pytest.fixture(autouse=True)
def empty_results_cache(app):
    with app.app_context():
        cache.clear()
    yield


@pytest.fixture
def demo(db_session):
    load_demo_data(db_session)
    return load_demo_surveys(db_session, "demo-secret")
