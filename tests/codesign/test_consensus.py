"""The cross-sector consensus score and the pooling of small sectors, against hand-worked cases."""

import pytest

from codesign.service import OTHER_SECTORS, consensus_score, pool_sectors


def test_one_sector_everyone_supports():
    # (4 + 1) / (4 + 2) = 5/6
    assert consensus_score([(4, 4)]) == pytest.approx(5 / 6)


def test_product_over_sectors():
    # Health 3 of 4: 4/6; Council 1 of 5: 2/7; product 8/42
    assert consensus_score([(3, 4), (1, 5)]) == pytest.approx(8 / 42)


def test_an_idea_every_sector_backs_beats_one_that_a_sector_ignores():
    backed_by_all = consensus_score([(3, 4), (3, 4), (3, 4)])  # (4/6)^3 = 0.296
    loved_by_two = consensus_score([(4, 4), (4, 4), (0, 4)])  # (5/6)^2 * 1/6 = 0.116
    assert backed_by_all == pytest.approx(8 / 27)
    assert loved_by_two == pytest.approx(25 / 216)
    assert backed_by_all > loved_by_two


def test_nobody_supports():
    assert consensus_score([(0, 3), (0, 3)]) == pytest.approx((1 / 5) ** 2)


def test_sectors_under_three_are_pooled():
    groups = pool_sectors({"Health": 4, "Council": 3, "Faith": 2, "Police": 1})
    assert groups == {"Health": "Health", "Council": "Council", "Faith": OTHER_SECTORS, "Police": OTHER_SECTORS}


def test_a_pool_under_three_takes_in_the_next_smallest_sector():
    # Faith alone would be "other sectors" of 2 people: Council (3) joins it.
    groups = pool_sectors({"Health": 5, "Council": 3, "Faith": 2})
    assert groups == {"Health": "Health", "Council": OTHER_SECTORS, "Faith": OTHER_SECTORS}


def test_always_pooled_whatever_its_size():
    groups = pool_sectors({"Health": 5, "Sector not given": 4}, always=frozenset({"Sector not given"}))
    assert groups == {"Health": "Health", "Sector not given": OTHER_SECTORS}


def test_no_small_sectors_no_pool():
    assert pool_sectors({"Health": 3, "Council": 3}) == {"Health": "Health", "Council": "Council"}
