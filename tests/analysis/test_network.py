"""The trust network, checked by hand on small examples and against scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.network import trust_network


def ratings(wave, rater_sector, target, values, start=0, organisation=None):
    """One rater per entry of `values`; each entry gives (reliable, shared_mission, open)."""
    rows = []
    for i, triple in enumerate(values):
        response_id = f"{wave}-{rater_sector}-{start + i}"
        for dimension, value in zip(("reliable", "shared_mission", "open"), triple):
            rows.append((response_id, wave, rater_sector, target, dimension, value, organisation or f"org{i}"))
        rows.append((response_id, wave, rater_sector, target, "intensity", 1, organisation or f"org{i}"))
    return rows


def frame(*groups):
    return pd.DataFrame(
        [row for group in groups for row in group],
        columns=["response_id", "wave", "sector", "target_sector", "dimension", "value", "organisation"],
    )


def test_block_means_average_each_raters_trust_and_leave_out_intensity():
    trust = frame(
        ratings("W1", "Health", "Council", [(4, 4, 4), (3, 3, 3), (2, 3, 4), (4, 3, 2), (1, 1, 1)]),
        ratings("W1", "Council", "Health", [(2, 2, 2)] * 5),
    )
    network = trust_network(trust, ["W1"], "W1", "W1", k=5)
    assert network.sectors == ("Council", "Health")
    health_council = network.wave("W1").block("Health", "Council")
    assert health_council.raters == 5
    assert health_council.mean == pytest.approx((4 + 3 + 3 + 3 + 1) / 5)
    assert network.wave("W1").block("Council", "Health").mean == pytest.approx(2.0)
    # Density: the share of cross-sector pairs shown with mean ≥ 3; 2.8 and 2.0 are both below.
    assert network.wave("W1").density == 0.0
    assert network.wave("W1").pairs_shown == 2


def test_blocks_with_fewer_than_k_raters_or_organisations_are_withheld():
    trust = frame(
        ratings("W1", "Faith", "Council", [(4, 4, 4)] * 3),
        ratings("W1", "Health", "Council", [(3, 3, 3)] * 6, organisation="one trust"),
        ratings("W1", "Funder", "Council", [(3, 4, 3)] * 6),
    )
    wave = trust_network(trust, ["W1"], "W1", "W1", k=5).wave("W1")
    faith = wave.block("Faith", "Council")
    assert (faith.mean, faith.withheld, faith.raters) == (None, "fewer than 5 responses", 3)
    health = wave.block("Health", "Council")
    assert (health.mean, health.withheld) == (None, "fewer than 3 organisations")
    funder = wave.block("Funder", "Council")
    assert funder.withheld is None and funder.mean == pytest.approx(10 / 3)
    # Only the funder's block counts towards density, and a means grid withholds no complements.
    assert (wave.density, wave.pairs_shown) == (1.0, 1)
    assert wave.block("Council", "Funder").raters == 0 and wave.block("Council", "Funder").mean is None


def test_change_per_pair_matches_welch_and_largest_moves_come_first():
    rng = np.random.default_rng(3)
    before = [tuple(rng.integers(2, 5, 3)) for _ in range(12)]
    after = [tuple(rng.integers(1, 3, 3)) for _ in range(15)]
    steady = [(3, 3, 3), (3, 3, 4)] * 4
    trust = frame(
        ratings("W1", "Council", "Voluntary", before),
        ratings("W2", "Council", "Voluntary", after),
        ratings("W1", "Health", "Voluntary", steady),
        ratings("W2", "Health", "Voluntary", steady, start=50),
    )
    network = trust_network(trust, ["W1", "W2"], "W1", "W2", k=5)
    first, second = network.changes
    assert (first.rater, first.target) == ("Council", "Voluntary")
    r = np.array([np.mean(t) for t in before])
    c = np.array([np.mean(t) for t in after])
    direct = stats.ttest_ind(c, r, equal_var=False).confidence_interval(0.90)
    assert first.difference == pytest.approx(c.mean() - r.mean())
    assert first.ci90 == pytest.approx((direct.low, direct.high))
    assert second.rater == "Health"
    assert second.difference == pytest.approx(0.0) and second.ci90[0] < 0 < second.ci90[1]


def test_a_pair_withheld_in_either_wave_has_no_change():
    trust = frame(
        ratings("W1", "Council", "Health", [(3, 3, 3)] * 3),
        ratings("W2", "Council", "Health", [(2, 2, 2)] * 8),
    )
    network = trust_network(trust, ["W1", "W2"], "W1", "W2", k=5)
    assert network.changes == ()
    assert network.wave("W2").block("Council", "Health").mean == pytest.approx(2.0)


def test_ratings_in_any_order_give_the_same_network():
    rng = np.random.default_rng(8)
    groups = []
    for wave in ("W1", "W2"):
        for rater in ("Council", "Health", "Funder"):
            for target in ("Council", "Health", "Funder"):
                triples = [tuple(rng.integers(1, 5, 3)) for _ in range(7)]
                groups.append(ratings(wave, rater, target, triples))
    trust = frame(*groups)
    trust["response_id"] = pd.factorize(trust["response_id"])[0]  # integers, as from the database
    ordered = trust.sort_values("response_id", kind="stable")
    shuffled = trust.sample(frac=1, random_state=3)
    first = trust_network(ordered, ["W1", "W2"], "W1", "W2")
    second = trust_network(shuffled, ["W1", "W2"], "W1", "W2")
    for one, other in zip(first.waves, second.waves):
        assert [(b.rater, b.target, b.raters, b.withheld) for b in one.blocks] == [
            (b.rater, b.target, b.raters, b.withheld) for b in other.blocks]
        assert [b.mean for b in one.blocks] == pytest.approx([b.mean for b in other.blocks])
        assert (one.density, one.pairs_shown) == (other.density, other.pairs_shown)
    assert [(c.rater, c.target) for c in first.changes] == [(c.rater, c.target) for c in second.changes]
    assert [c.difference for c in first.changes] == pytest.approx([c.difference for c in second.changes])
