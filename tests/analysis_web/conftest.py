"""The results pages share the session's app, and so its results cache (a temporary
folder): each test starts with it empty, so figures never carry over from another test's
rolled-back data (SQLite hands the same ids out again after a rollback)."""

import pytest

from analysis.routes import cache


@pytest.fixture(autouse=True)
def empty_results_cache(app):
    with app.app_context():
        cache.clear()
    yield
