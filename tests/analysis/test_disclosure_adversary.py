"""A reader with a linear-programming solver, against one wave's decision.

The reader sees every count the decision shows in the dashboard's table (responses per
place × sector, place totals, sector totals and the wave's total, always shown) and every
count and mean (to 4 decimals) it shows in a construct's table. A group withheld as
"fewer than k responses" has 1 to k − 1 responses; any other withheld group, at least
none. Answers are 1–5, so a group's sum of scores lies between its count and five times
it, and no group has more respondents with a score than it has responses.

Every group withheld as too small (fewer than k responses, or fewer than the fewest
organisations) must keep, whatever else is shown: at least two whole numbers its count
could be, and, in a construct's table, a mean that could lie anywhere in a range of half
the 1–5 scale (as the project's auditor asks of the pages). What no decision could
hide (the public total alone, with the words, fixing a group) is left out.
"""

import re

import numpy as np
import pandas as pd
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import linprog

from analysis.disclosure import ALL, ANY_ANSWER, WITHHELD, WaveDecision, decide_in_turn
from analysis.scores import construct_scores
from tests.conftest import COSTLY_EXAMPLES

CONSTRUCT = "trust"
CODEBOOK = pd.DataFrame({"item": ["x1", "x2"], "construct": [CONSTRUCT, CONSTRUCT], "reverse": [0, 0],
                         "min": [1, 1], "max": [5, 5]})
FEWER = re.compile(r"^fewer than (\d+) responses$")
HALF_THE_SCALE = 2.0


def survey(cells: dict[tuple[str, str], tuple[int, int, int]], seed: int = 1) -> pd.DataFrame:
    """One wave's responses: (place, sector) → (responses, organisations, skipped), the
    responses named round-robin after that many of the sector's organisations, the last
    `skipped` of them answering neither of the construct's items."""
    rng = np.random.default_rng(seed)
    rows = []
    for (place, sector), (n, organisations, skipped) in cells.items():
        for i in range(n):
            answered = i < n - skipped
            rows.append({"response_id": f"{place}-{sector}-{i}", "wave": "W1", "place": place,
                         "sector": sector, "organisation": f"{sector}-{i % organisations}",
                         "x1": float(rng.integers(1, 6)) if answered else np.nan,
                         "x2": float(rng.integers(1, 6)) if answered else np.nan})
    return pd.DataFrame(rows)


def decided(frame: pd.DataFrame, thresholds: list[tuple[int, int]]):
    """The decision in force for the wave after deciding at each threshold in turn."""
    scores = construct_scores(frame, CODEBOOK)
    return decide_in_turn(frame, scores, ["W1"], thresholds)[-1]["W1"], scores


class Reader:
    """Everything the reader knows about one wave, as linear constraints over three
    variables per (place, sector) cell: its responses, its respondents with a score for
    the construct, and the sum of their scores."""

    def __init__(self, frame: pd.DataFrame, scores: pd.DataFrame, decision: WaveDecision):
        self.places, self.sectors = sorted(frame["place"].unique()), sorted(frame["sector"].unique())
        self.cells = [(p, s) for p in self.places for s in self.sectors]
        self.decision = decision
        score = scores[CONSTRUCT]
        values = {"any": 1.0, "n": score.notna().astype(float), "sum": score.fillna(0)}
        self.truth = {what: frame.assign(value=value).groupby(["place", "sector"])["value"].sum()
                      .reindex(pd.MultiIndex.from_tuples(self.cells), fill_value=0).to_numpy(dtype=float)
                      for what, value in values.items()}
        self.upper, self.upper_bounds, self.equal, self.equal_bounds = [], [], [], []
        for key in self.keys():
            self._read(key)
        for i in range(len(self.cells)):
            self._at_most({("n", i): 1, ("any", i): -1}, 0)  # only those who responded have a score
            self._at_most({("n", i): 1, ("sum", i): -1}, 0)  # every answer is at least 1
            self._at_most({("sum", i): 1, ("n", i): -5}, 0)  # and at most 5
        self.a_ub, self.b_ub = np.array(self.upper), np.array(self.upper_bounds)
        self.a_eq, self.b_eq = np.array(self.equal), np.array(self.equal_bounds)
        true = np.concatenate([self.truth["any"], self.truth["n"], self.truth["sum"]])
        assert (self.a_ub @ true <= self.b_ub + 1e-6).all() and np.allclose(self.a_eq @ true, self.b_eq), \
            "the reader model rules out the true counts"

    def keys(self) -> list[tuple]:
        """Every figure of the table: cells, place totals, sector totals, the wave's total."""
        return [*self.cells, *[(p, ALL) for p in self.places], *[(ALL, s) for s in self.sectors], (ALL, ALL)]

    def members(self, key: tuple) -> list[int]:
        """The cells a figure adds up."""
        return [i for i, (p, s) in enumerate(self.cells) if key[0] in (ALL, p) and key[1] in (ALL, s)]

    def variable(self, what: str, cell: int) -> int:
        """Where a cell's `what` ("any", "n" or "sum") sits among the variables."""
        return ("any", "n", "sum").index(what) * len(self.cells) + cell

    def row(self, what: str, key: tuple) -> np.ndarray:
        """The figure's `what` as a sum of the variables."""
        row = np.zeros(3 * len(self.cells))
        row[[self.variable(what, i) for i in self.members(key)]] = 1.0
        return row

    def true(self, what: str, key: tuple) -> float:
        """The figure's `what` in truth."""
        return float(self.truth[what][self.members(key)].sum())

    def _at_most(self, terms: dict[tuple[str, int], float], bound: float) -> None:
        """Σ weight × variable ≤ bound."""
        row = np.zeros(3 * len(self.cells))
        for (what, i), weight in terms.items():
            row[self.variable(what, i)] = weight
        self.upper.append(row)
        self.upper_bounds.append(bound)

    def _between(self, row: np.ndarray, low: float, high: float) -> None:
        """low ≤ row · variables ≤ high."""
        self.upper += [row, -row]
        self.upper_bounds += [high, -low]

    def _read(self, key: tuple) -> None:
        """What the decision shows of one figure, in both tables."""
        responses = self.decision.reason(ANY_ANSWER, *key)
        if responses is None:
            self.equal.append(self.row("any", key))
            self.equal_bounds.append(self.true("any", key))
        elif few := FEWER.match(responses):
            self._between(self.row("any", key), 1, int(few[1]) - 1)
        reason = self.decision.reason(CONSTRUCT, *key)
        if reason is None:
            n = self.true("n", key)
            self.equal.append(self.row("n", key))
            self.equal_bounds.append(n)
            if n:
                mean = round(self.true("sum", key) / n, 4)
                self._between(self.row("sum", key), (mean - 5e-5) * n, (mean + 5e-5) * n)
        elif few := FEWER.match(reason):
            # Copied from the counts' "fewer than k", a construct's group may have no scores.
            copied = responses is not None and FEWER.match(responses)
            self._between(self.row("n", key), 0 if copied else 1, int(few[1]) - 1)

    def count_range(self, what: str, key: tuple) -> tuple[float, float]:
        """The least and the most the figure's count could be."""
        ends = []
        for sign in (1, -1):
            solved = linprog(sign * self.row(what, key), A_ub=self.a_ub, b_ub=self.b_ub, A_eq=self.a_eq,
                             b_eq=self.b_eq, bounds=(0, None), method="highs")
            assert solved.status == 0, (key, solved.message)
            ends.append(sign * solved.fun)
        return ends[0], ends[1]

    def mean_range(self, key: tuple) -> tuple[float, float]:
        """The least and the most the figure's mean could be, by the Charnes–Cooper
        transform: every variable scaled by t = 1/n, so n·t = 1 and the mean is linear."""
        a_ub = np.hstack([self.a_ub, -self.b_ub[:, None]])
        a_eq = np.vstack([np.hstack([self.a_eq, -self.b_eq[:, None]]), np.append(self.row("n", key), 0.0)])
        b_eq = np.append(np.zeros(len(self.a_eq)), 1.0)
        ends = []
        for sign in (1, -1):
            solved = linprog(np.append(sign * self.row("sum", key), 0.0), A_ub=a_ub, b_ub=np.zeros(len(a_ub)),
                             A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            assert solved.status == 0, (key, solved.message)
            ends.append(sign * solved.fun)
        return ends[0], ends[1]


def narrowed(reader: Reader, table: str, key: tuple) -> dict[str, str]:
    """How far the reader narrows one withheld group: for each condition it fails
    ("count", "mean"), the bound found."""
    problems = {}
    low, high = reader.count_range("any" if table == ANY_ANSWER else "n", key)
    if np.floor(high + 1e-6) - np.ceil(low - 1e-6) < 1:
        problems["count"] = f"its count lies within {low:.2f}..{high:.2f}, fewer than two whole numbers"
    if table == CONSTRUCT:
        low, high = reader.mean_range(key)
        if high - low < HALF_THE_SCALE - 1e-6:
            problems["mean"] = (f"its mean lies within {low:.2f}..{high:.2f}, "
                                f"narrower than {HALF_THE_SCALE:.0f} points")
    return problems


def withholding_all(reader: Reader) -> WaveDecision:
    """The reader's decision with every other figure withheld too, but the wave's
    responses and the empty groups (which the project always shows): what no decision can
    stop the reader knowing, from the public total and the words."""
    decision = reader.decision
    everything = {(table, *key): WITHHELD for table, what in ((ANY_ANSWER, "any"), (CONSTRUCT, "n"))
                  for key in reader.keys()
                  if reader.true(what, key) > 0 and (table, *key) != (ANY_ANSWER, ALL, ALL)}
    return WaveDecision(decision.wave, decision.k, everything | decision.withheld,
                        decision.organisations_known)


def exposed(frame: pd.DataFrame, thresholds: tuple[tuple[int, int], ...] = ((5, 3),)) -> list[str]:
    """Each group withheld as too small that the reader narrows too far, saying which
    table, which group, why it was withheld and the bound the reader found; leaving out
    what the public total alone gives away (two places of 4 in a wave of 8, say)."""
    decision, scores = decided(frame, list(thresholds))
    reader = Reader(frame, scores, decision)
    blind = None
    problems = []
    for table, what in ((ANY_ANSWER, "any"), (CONSTRUCT, "n")):
        for key in reader.keys():
            reason, true = decision.reason(table, *key), reader.true(what, key)
            # Too small for itself, whatever its words say ("withheld" where "fewer than 5"
            # would pin its count).
            if not (reason and true > 0 and (reason.startswith("fewer than") or true < thresholds[0][0])):
                continue
            found = narrowed(reader, table, key)
            if found:
                blind = blind or Reader(frame, scores, withholding_all(reader))
                unavoidable = narrowed(blind, table, key)
                problems += [f"{table} {key} ({reason}, {true:.0f} in truth): {problem}"
                             for condition, problem in found.items() if condition not in unavoidable]
    return problems


SIZES = [0, 2, 3, 4, 6, 12, 20, 30]


@st.composite
def surveys(draw) -> pd.DataFrame:
    """2–3 places × 3–5 sectors of 0 to 30 responses from 1 to 3 organisations each, in
    some of which a few respondents skip the construct; at least two places and two
    sectors answer (with one, every withheld figure is the public total)."""
    places, sectors = draw(st.integers(2, 3)), draw(st.integers(3, 5))
    cells = {}
    for p in range(places):
        for s in range(sectors):
            n = draw(st.sampled_from(SIZES))
            if n:
                skipped = min(n, draw(st.sampled_from([0, 0, 1, 2, 5])))
                cells[f"P{p}", f"S{s}"] = (n, draw(st.integers(1, 3)), skipped)
    assume(len({p for p, _ in cells}) >= 2 and len({s for _, s in cells}) >= 2)
    return survey(cells, seed=draw(st.integers(0, 3)))


@COSTLY_EXAMPLES
@given(surveys(), st.sampled_from([((5, 3),), ((5, 3), (10, 3))]))
def test_no_group_withheld_as_too_small_is_narrowed_by_everything_else_shown(frame, thresholds):
    assert not (problems := exposed(frame, thresholds)), "\n".join(problems)


def withheld_as(frame: pd.DataFrame, table: str, place: str | None, sector: str | None) -> str | None:
    """Why the decision at k = 5 withholds a figure: the premise of a case below."""
    return decided(frame, [(5, 3)])[0].reason(table, place, sector)


def test_a_large_group_withheld_for_the_organisation_rule_keeps_half_the_scale_for_its_mean():
    """One place: Local authority's 30 responses come from 2 organisations. Hidden only
    beside the two sectors of 3, its mean would be the place's less theirs (at most 4 × 6
    points over 30 responses: 0.8 of the scale)."""
    frame = survey({("Brackenford", "Faith"): (3, 3, 0), ("Brackenford", "Education"): (3, 3, 0),
                    ("Brackenford", "Business"): (20, 3, 0), ("Brackenford", "Health"): (20, 3, 0),
                    ("Brackenford", "Local authority"): (30, 2, 0)})
    assert withheld_as(frame, CONSTRUCT, "Brackenford", "Local authority") == "fewer than 3 organisations"
    assert not (problems := exposed(frame)), "\n".join(problems)


def test_a_large_group_withheld_for_the_organisation_rule_keeps_its_mean_beside_a_small_group_elsewhere():
    """North's Local authority (20 responses, 2 organisations) and South's Faith (3) are
    the only sectors withheld across places: the wave's mean less Health's (shown for
    all places) leaves Local authority's mean beside just 3 hidden answers."""
    frame = survey({("North", "Local authority"): (20, 2, 0), ("North", "Health"): (12, 3, 0),
                    ("South", "Faith"): (3, 3, 0), ("South", "Health"): (4, 3, 0)})
    assert withheld_as(frame, CONSTRUCT, ALL, "Local authority") == "fewer than 3 organisations"
    assert not (problems := exposed(frame)), "\n".join(problems)


def test_a_constructs_complement_shown_in_the_counts_cannot_fix_its_small_group():
    """Faith: 6 responses (shown), 4 with a trust score (withheld). Education, everyone
    answering trust, is the smallest complement; but its 12 responses are on the
    dashboard, so trust's total less Health's and Business's (Faith and Education) leaves
    Faith at least 4, and the words say at most 4. Business, where some skipped, would
    keep Faith uncertain."""
    frame = survey({("Brackenford", "Faith"): (6, 3, 2), ("Brackenford", "Education"): (12, 3, 0),
                    ("Brackenford", "Health"): (20, 3, 0), ("Brackenford", "Business"): (20, 3, 5)})
    assert withheld_as(frame, ANY_ANSWER, "Brackenford", "Faith") is None
    assert withheld_as(frame, CONSTRUCT, "Brackenford", "Faith") == "fewer than 5 responses"
    assert not (problems := exposed(frame)), "\n".join(problems)


def test_a_constructs_small_group_keeps_two_counts_where_every_other_group_answered_the_construct_in_full():
    """As above with no Business: every complement trust could take is on the dashboard
    with the same count, so only withholding trust's place total keeps Faith's 4 unknown."""
    frame = survey({("Brackenford", "Faith"): (6, 3, 2), ("Brackenford", "Education"): (12, 3, 0),
                    ("Brackenford", "Health"): (20, 3, 0)})
    assert withheld_as(frame, CONSTRUCT, "Brackenford", "Faith") == "fewer than 5 responses"
    assert not (problems := exposed(frame)), "\n".join(problems)


def test_two_groups_of_four_are_not_pinned_by_their_sector_total_of_eight():
    """Faith has 4 responses in each place: each is "fewer than 5", at most 4, and
    Faith's total of 8 across places, shown, says both are exactly 4."""
    frame = survey({("North", "Faith"): (4, 3, 0), ("North", "Health"): (20, 3, 0),
                    ("South", "Faith"): (4, 3, 0), ("South", "Health"): (20, 3, 0)})
    assert withheld_as(frame, ANY_ANSWER, "North", "Faith") == "fewer than 5 responses"
    assert not (problems := exposed(frame)), "\n".join(problems)
