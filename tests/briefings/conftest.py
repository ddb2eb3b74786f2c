"""An empty results cache for every test: SQLite hands out the same ids again after a
rollback, so figures must never carry over from another test's data. The briefings are
drawn from the demo (tests.conftest.demo_surveys), built once per worker and backend."""

import pytest

from analysis.routes import cache


@pytest.fixture(autouse=True)
def empty_results_cache(app):
    with app.app_context():
        cache.clear()
    yield
