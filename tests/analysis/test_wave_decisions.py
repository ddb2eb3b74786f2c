"""Suppression is a property of each wave's data, not of the view: the recovery methods
a pen-test used against the pages, tried against the engine."""

import numpy as np
import pandas as pd
from hypothesis import assume, given
from hypothesis import strategies as st

from analysis.compare import Suppressed, compare, compare_by
from analysis.disclosure import ALL, ANY_ANSWER, WITHHELD, decide_in_turn, decide_waves
from analysis.scores import construct_scores
from tests.conftest import COSTLY_EXAMPLES

K = 5
CODEBOOK = pd.DataFrame({"item": ["x1", "x2"], "construct": ["trust", "trust"], "reverse": [0, 0],
                         "min": [1, 1], "max": [5, 5]})


def responses(sizes: dict[str, dict[str, int]], seed: int = 1, place: str = "Brackenford", organisations=None):
    """sizes: wave → sector → responses, each from one of three organisations per sector."""
    rng = np.random.default_rng(seed)
    rows = []
    for wave, by_sector in sizes.items():
        for sector, n in by_sector.items():
            for i in range(n):
                rows.append({"response_id": f"{wave}-{sector}-{i}", "wave": wave, "sector": sector, "place": place,
                             "organisation": organisations(sector, i) if organisations else f"{sector}-{i % 3}",
                             "x1": float(rng.integers(1, 6)), "x2": float(rng.integers(1, 6))})
    return pd.DataFrame(rows)


def decisions_for(frame, k=5):
    return decide_waves(frame, construct_scores(frame, CODEBOOK), sorted(frame["wave"].unique()), k)


def test_a_sector_withheld_in_a_wave_is_withheld_in_every_view_of_that_wave():
    # The pen-test's sizes (Faith, Education, Business, Local authority).
    sizes = {"W1": (3, 3, 20, 30), "W2": (3, 20, 20, 30), "W3": (3, 15, 8, 30)}
    names = ("Faith", "Education", "Business", "Local authority")
    frame = responses({w: dict(zip(names, n)) for w, n in sizes.items()})
    views = [compare_by(frame, CODEBOOK, "sector", reference, "W3", k=5) for reference in ("W1", "W2")]
    hidden = [{name for name, rows in view.items() if isinstance(rows[0], Suppressed)} for view in views]
    decided = decisions_for(frame)["W3"]
    in_w3 = {name for name in names if decided.reason("trust", ALL, name)}
    # Each view hides what W3 hides (and what its other wave hides), never less.
    assert all(in_w3 <= view for view in hidden)
    # W3's headline minus its shown sectors leaves at least two sectors, in every view.
    assert len(in_w3) >= 2 and "Faith" in in_w3


def test_the_headline_minus_every_view_never_isolates_one_sector():
    """The subtraction attack: for each wave, published sector counts and the wave's
    total leave either nothing hidden or at least two hidden sectors with responses."""
    frame = responses({"W1": {"Faith": 3, "Education": 3, "Business": 20, "Council": 30},
                       "W2": {"Faith": 3, "Education": 20, "Business": 20, "Council": 30},
                       "W3": {"Faith": 3, "Education": 15, "Business": 8, "Council": 30}})
    for wave, decision in decisions_for(frame).items():
        present = frame.loc[frame["wave"] == wave, "sector"].unique()
        hidden = [s for s in present if decision.reason("trust", ALL, s)]
        assert len(hidden) != 1, (wave, hidden)


def test_one_response_without_an_organisation_does_not_switch_the_organisation_rule_off():
    # Housing: 6 responses from one organisation, then one open-link response with none.
    frame = responses({"W1": {"Housing": 6, "Council": 30}}, organisations=lambda s, i: "one" if s == "Housing" else f"c{i % 4}")
    extra = frame[frame["sector"] == "Housing"].iloc[[0]].assign(response_id="anon", organisation=None)
    decision = decisions_for(pd.concat([frame, extra], ignore_index=True))["W1"]
    assert decision.reason(ANY_ANSWER, ALL, "Housing") == "fewer than 3 organisations"


def test_a_survey_that_never_records_organisations_skips_the_rule():
    frame = responses({"W1": {"Housing": 6, "Council": 30}}).assign(organisation=None)
    decision = decisions_for(frame)["W1"]
    assert not decision.organisations_known and decision.reason(ANY_ANSWER, ALL, "Housing") is None


def test_a_waves_total_responses_are_never_withheld():
    frame = responses({"W1": {"Faith": 2, "Council": 2}})
    decision = decisions_for(frame)["W1"]
    assert decision.reason(ANY_ANSWER) is None  # 4 responses: counting who answered is not an answer
    assert decision.reason("trust") == "fewer than 5 responses"  # but their answers are


def test_the_public_decision_refines_the_internal_one():
    frame = responses({"W1": {"Faith": 3, "Education": 7, "Business": 12, "Council": 30}})
    scores = construct_scores(frame, CODEBOOK)
    internal = decide_waves(frame, scores, ["W1"], 5)
    public = decide_waves(frame, scores, ["W1"], 10, stricter_than=internal)
    assert set(internal["W1"].withheld) <= set(public["W1"].withheld)
    assert public["W1"].reason("trust", ALL, "Education") == "fewer than 10 responses"


def test_the_sector_mix_check_never_uses_a_withheld_sector():
    """The pen-test solved for Funder's mean from the adjusted difference: now Funder's
    answers do not move the adjusted figure at all."""
    sizes = {"W1": {"Health": 20, "Council": 20, "Charity": 20, "Business": 20, "Funder": 20},
             "W2": {"Health": 30, "Council": 30, "Charity": 30, "Business": 5, "Funder": 2}}
    frame = responses(sizes)
    decided = decisions_for(frame)
    withheld = {"trust": {s for s in ("Business", "Funder")
                          if any(d.reason("trust", ALL, s) for d in decided.values())}}
    assert "Funder" in withheld["trust"]
    first = compare(frame, CODEBOOK, "W1", "W2", withheld_strata=withheld).constructs[0].adjusted
    funder = (frame["sector"] == "Funder") & (frame["wave"] == "W2")
    changed = frame.assign(x1=np.where(funder, 1.0, frame["x1"]), x2=np.where(funder, 1.0, frame["x2"]))
    second = compare(changed, CODEBOOK, "W1", "W2", withheld_strata=withheld).constructs[0].adjusted
    assert first.difference == second.difference and first.ci90 == second.ci90
    assert "Funder" in first.left_out


def test_complements_hide_a_second_sector_where_one_would_be_given_away():
    frame = responses({"W1": {"Faith": 3, "Education": 20, "Council": 30}})
    decision = decisions_for(frame)["W1"]
    assert decision.reason("trust", ALL, "Faith") == "fewer than 5 responses"
    assert decision.reason("trust", ALL, "Education") == WITHHELD


def test_a_group_changed_by_fewer_than_k_after_closing_stays_withheld():
    """Padding after publication: comparing the figures before and after a late import of
    two Funder responses would give those two away."""
    from datetime import datetime, timedelta, timezone

    from analysis.disclosure import changed_after_closing

    closed = datetime(2026, 5, 1, tzinfo=timezone.utc)
    frame = responses({"W1": {"Funder": 12, "Council": 30}})
    late = pd.Timestamp(closed + timedelta(days=3))
    frame = frame.assign(submitted_at=pd.Timestamp(closed - timedelta(days=1)))
    extra = frame[frame["sector"] == "Funder"].iloc[:2].assign(response_id=["late-1", "late-2"], submitted_at=late)
    padded = pd.concat([frame, extra], ignore_index=True)
    changed = changed_after_closing(padded, closed, K)
    assert set(changed) == {("Brackenford", "Funder"), ("Brackenford", ALL), (ALL, "Funder"), (ALL, ALL)}
    decision = decide_waves(padded, construct_scores(padded, CODEBOOK), ["W1"], K, changed_late={"W1": changed})["W1"]
    assert decision.reason("trust", ALL, "Funder") == f"changed by fewer than {K} responses after the wave closed"
    # The wave's number of responses stays public; its answers, all places together, do not.
    assert decision.reason(ANY_ANSWER) is None
    assert decision.reason("trust") == f"changed by fewer than {K} responses after the wave closed"
    # Ten at once are a group of their own: nothing extra is withheld.
    many = frame[frame["sector"] == "Funder"].iloc[:10].assign(
        response_id=[f"late-{i}" for i in range(10)], submitted_at=late)
    assert changed_after_closing(pd.concat([frame, many], ignore_index=True), closed, K) == {}



def test_trust_blocks_are_decided_once_per_wave_with_complements_across_places():
    from analysis.disclosure import decide_trust

    frame = pd.concat([responses({"W1": {"Health": 12, "Council": 20}}, place="Big"),
                       responses({"W1": {"Health": 3, "Council": 20}}, place="Small", seed=2)], ignore_index=True)
    decisions = decisions_for(frame)
    raters = frame[["response_id", "wave", "sector", "place", "organisation"]].assign(target="Council")
    blocks = decide_trust(raters, decisions)["W1"]
    assert blocks[("Small", "Health", "Council")] == "fewer than 5 responses"
    # All places less Big would give Small away: Big's block goes too (the smaller other).
    assert blocks[("Big", "Health", "Council")] == WITHHELD
    # The wave withholds each place's Council count (so Health's cannot be worked out from
    # the place totals), so their Council blocks go whole too; all places' Council block,
    # whose count the wave shows, stays.
    assert decisions["W1"].reason(ANY_ANSWER, "Big", "Council") == WITHHELD
    assert blocks[("Big", "Council", "Council")] == blocks[("Small", "Council", "Council")] == WITHHELD
    assert (ALL, "Council", "Council") not in blocks


@COSTLY_EXAMPLES
@given(st.lists(st.lists(st.integers(0, 14), min_size=4, max_size=4), min_size=2, max_size=3),
       st.integers(6, 12))
def test_a_raised_threshold_only_ever_withholds_more(table, raised):
    """Pages kept from before k was raised, beside pages after: safe only if the later
    decision withholds everything the earlier one did. Deciding afresh at the higher k
    can choose other complements; deciding in turn cannot."""
    assume(any(map(any, table)))
    frame = pd.concat([responses({"W1": dict(zip(("Faith", "Education", "Business", "Council"), sizes))},
                                 place=f"Place {i}", seed=i)
                       for i, sizes in enumerate(table)], ignore_index=True)
    frame["response_id"] = range(len(frame))
    scores = construct_scores(frame, CODEBOOK)
    before, after = decide_in_turn(frame, scores, ["W1"], [(K, 3), (raised, 3)], organisations_known=True)
    assert set(before["W1"].withheld) <= set(after["W1"].withheld)


def test_deciding_afresh_at_a_raised_threshold_would_show_what_was_withheld_before():
    """Why decisions are made in turn: here k = 7 afresh shows Education in both places,
    which k = 5 withheld as complements (while it showed Faith's 6, which k = 7
    withholds); the two versions side by side would give both away."""
    sectors = ("Faith", "Education", "Business", "Council")
    frame = pd.concat([responses({"W1": dict(zip(sectors, sizes))}, place=f"Place {i}", seed=i)
                       for i, sizes in enumerate([[10, 8, 0, 14], [6, 10, 3, 6]])], ignore_index=True)
    frame["response_id"] = range(len(frame))
    scores = construct_scores(frame, CODEBOOK)
    before = decide_waves(frame, scores, ["W1"], K, organisations_known=True)["W1"]
    afresh = decide_waves(frame, scores, ["W1"], 7, organisations_known=True)["W1"]
    assert before.reason(ANY_ANSWER, "Place 0", "Education") == WITHHELD
    assert afresh.reason(ANY_ANSWER, "Place 0", "Education") is None
    in_turn = decide_in_turn(frame, scores, ["W1"], [(K, 3), (7, 3)], organisations_known=True)[-1]["W1"]
    assert in_turn.reason(ANY_ANSWER, "Place 0", "Education") == WITHHELD


def fixed_counts(frame: pd.DataFrame, decision, construct: str = ANY_ANSWER) -> list:
    """The withheld counts with responses that the shown counts fix, reading every line
    (each place's sectors and total, each sector's places and total, the places' and the
    sectors' totals with the wave's, always public) as one equation: the reader's algebra."""
    places, sectors = sorted(frame["place"].unique()), sorted(frame["sector"].unique())
    count = frame.groupby(["place", "sector"]).size()
    n = {(p, s): int(count.get((p, s), 0)) for p in places for s in sectors}
    n |= {(p, ALL): sum(n[p, s] for s in sectors) for p in places}
    n |= {(ALL, s): sum(n[p, s] for p in places) for s in sectors}
    n[ALL, ALL] = len(frame)
    hidden = [key for key in n if n[key] and key != (ALL, ALL) and decision.reason(construct, *key)]
    lines = [([(p, s) for s in sectors], (p, ALL)) for p in places] + \
            [([(p, s) for p in places], (ALL, s)) for s in sectors] + \
            [([(p, ALL) for p in places], (ALL, ALL)), ([(ALL, s) for s in sectors], (ALL, ALL))]
    rows = [[(key in entries) - (key == total) for key in hidden] for entries, total in lines]
    rank = np.linalg.matrix_rank(np.array(rows, dtype=float)) if hidden else 0
    return [key for i, key in enumerate(hidden)
            if np.linalg.matrix_rank(np.array(rows + [[float(j == i) for j in range(len(hidden))]])) == rank]


def places_by_sectors(table: list[list[int]]):
    """One wave's responses from a table of sizes: row i is place Pi, column j sector Sj."""
    frame = pd.concat([responses({"W1": {f"S{j}": n for j, n in enumerate(sizes) if n}}, seed=i, place=f"P{i}")
                       for i, sizes in enumerate(table) if any(sizes)], ignore_index=True)
    frame["response_id"] = range(len(frame))
    return frame


def test_lines_that_each_keep_two_unknowns_cannot_fix_a_group_together():
    """A reviewer's case: P0's row less the sectors' totals (S0 and S1 answer only in
    P0) left P0's Funder-like S4 of 2 responses exactly, and its mean with it."""
    sizes = {"P0": {"S0": 32, "S1": 6, "S2": 24, "S3": 8, "S4": 2}, "P1": {"S2": 6, "S4": 31},
             "P2": {"S2": 13, "S3": 24, "S4": 3}}
    frame = pd.concat([responses({"W1": by}, seed=i, place=p) for i, (p, by) in enumerate(sizes.items())],
                      ignore_index=True)
    frame["response_id"] = range(len(frame))
    decision = decide_in_turn(frame, construct_scores(frame, CODEBOOK), ["W1"], [(K, 3)])[-1]["W1"]
    assert decision.reason(ANY_ANSWER, "P0", "S4") == f"fewer than {K} responses"
    assert fixed_counts(frame, decision) == [] and fixed_counts(frame, decision, "trust") == []


@COSTLY_EXAMPLES
@given(st.lists(st.lists(st.sampled_from([0, 0, 2, 3, 6, 8, 13, 24, 31]), min_size=4, max_size=4),
                min_size=2, max_size=3))
def test_no_withheld_count_is_fixed_by_all_the_lines_together(table):
    # With one place or one sector answering, every withheld figure is the public total.
    assume(sum(map(any, table)) >= 2 and sum(map(any, zip(*table))) >= 2)
    frame = places_by_sectors(table)
    decision = decide_in_turn(frame, construct_scores(frame, CODEBOOK), ["W1"], [(K, 3), (10, 3)])[-1]["W1"]
    assert fixed_counts(frame, decision) == []


def test_a_count_the_lines_fix_with_nothing_shown_beside_it_takes_a_figure_from_elsewhere():
    """Found by the property above: P1's S2 (2 responses) was P0 and P1's 6 together
    less the 4 that S3's total leaves them, with every figure in its own lines withheld
    already, so a figure in another line (P2's S3) has to go."""
    frame = places_by_sectors([[0, 0, 0, 2], [0, 0, 2, 2], [0, 2, 2, 13]])
    decision = decide_in_turn(frame, construct_scores(frame, CODEBOOK), ["W1"], [(K, 3)])[-1]["W1"]
    assert decision.reason(ANY_ANSWER, "P1", "S2") == f"fewer than {K} responses"
    assert fixed_counts(frame, decision) == []


def test_every_two_versions_of_a_closed_wave_are_compared_not_only_one_and_the_next():
    """Twelve imported late and ten of them taken away again: each step is k or more,
    but the first version and the last differ by two."""
    from datetime import datetime, timedelta, timezone

    from analysis.disclosure import changed_after_closing

    closed = datetime(2026, 5, 1, tzinfo=timezone.utc)
    frame = responses({"W1": {"Funder": 12, "Council": 30}}).assign(submitted_at=pd.Timestamp(closed))
    imported = frame[frame["sector"] == "Funder"].iloc[:12].assign(
        response_id=[f"late-{i}" for i in range(12)], submitted_at=pd.Timestamp(closed + timedelta(days=2)))
    # An undone import stands, as surveys.service.late_changes gives it, as its responses
    # when imported and each taken away again when undone.
    undone = imported.iloc[:10].assign(submitted_at=pd.Timestamp(closed + timedelta(days=3)), change=-1)
    assert changed_after_closing(pd.concat([frame, imported], ignore_index=True), closed, K) == {}
    changed = changed_after_closing(pd.concat([frame, imported, undone], ignore_index=True), closed, K)
    assert ("Brackenford", "Funder") in changed


def test_a_construct_everyone_answered_keeps_what_an_earlier_threshold_withheld_of_it():
    """Found in review: thresholds of 12 then 10 (the pages' raised above the briefings').
    At 12 the wave's 11 answers are too few to show; at 10 the construct, answered by
    everyone, would have taken the dashboard's decision and shown them again."""
    frame = responses({"W1": {"a": 6, "b": 5}})
    steps = decide_in_turn(frame, construct_scores(frame, CODEBOOK), ["W1"], [(12, 3), (10, 3)],
                           organisations_known=False)
    assert steps[0]["W1"].reason("trust") == "fewer than 12 responses"
    assert steps[1]["W1"].reason("trust") == "fewer than 12 responses"

