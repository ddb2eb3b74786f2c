"""Disclosure control: primary and secondary suppression, as properties."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.disclosure import WITHHELD, disclose, round_public


def table(values) -> pd.DataFrame:
    values = np.asarray(values)
    return pd.DataFrame(values, index=[f"r{i}" for i in range(values.shape[0])],
                        columns=[f"c{j}" for j in range(values.shape[1])])


def test_small_cells_and_their_complements_are_suppressed():
    result = disclose(table([[10, 12, 8], [3, 15, 9], [20, 0, 30]]), k=5)
    assert result.suppressed.to_numpy().tolist() == [
        [True, False, True],
        [True, False, True],
        [False, False, False],
    ]
    assert result.message == "fewer than 5 responses"
    assert result.rows()[1] == ("r1", ["fewer than 5 responses", 15, WITHHELD], 27)
    assert result.rows()[0][1][0] == WITHHELD


def test_cells_from_too_few_organisations_are_suppressed_where_organisations_are_known():
    counts = table([[20, 30], [40, 50]])
    organisations = table([[2.0, 9.0], [np.nan, 9.0]])
    result = disclose(counts, k=5, organisations=organisations, min_organisations=3)
    assert result.reasons.iloc[0, 0] == "fewer than 3 organisations"
    # The complements are withheld, not blamed on organisations.
    assert result.reasons.iloc[1, 0] == WITHHELD


def test_unknown_organisations_do_not_trigger_the_organisation_rule():
    counts = table([[20, 30], [40, 50]])
    result = disclose(counts, k=5, organisations=table([[np.nan, np.nan], [np.nan, 1.0]]))
    assert result.suppressed.to_numpy().tolist() == [[True, True], [True, True]]
    assert result.reasons.iloc[1, 1] == "fewer than 3 organisations"
    assert not disclose(counts, k=5, organisations=table([[np.nan] * 2] * 2)).suppressed.to_numpy().any()


def test_a_lone_cell_in_its_row_hides_the_row_total():
    result = disclose(table([[3, 0], [10, 10]]), k=5)
    assert result.row_total_suppressed.iloc[0]
    assert result.rows()[0] == ("r0", ["fewer than 5 responses", 0], WITHHELD)


def test_the_grand_total_is_withheld_when_it_would_give_a_cell_away():
    result = disclose(table([[3, 0], [0, 40]]), k=5)
    assert result.rows()[1][1] == [0, 40]
    assert result.grand_total() == "withheld so a smaller group cannot be worked out"
    assert disclose(table([[3]]), k=5).grand_total() == "fewer than 5"
    assert disclose(table([[10, 12], [8, 9]]), k=5).grand_total() == 39


def test_public_rounding():
    assert [round_public(n) for n in (0, 2, 3, 7, 8, 12, 13, 250)] == [0, 0, 5, 5, 10, 10, 15, 250]


@given(arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 40)),
       st.integers(5, 12))
def test_no_suppressed_cell_can_be_recovered_by_subtraction(values, k):
    result = disclose(table(values), k=k)
    hidden = result.suppressed.to_numpy()
    # Every small non-zero cell is hidden.
    assert not np.any((values > 0) & (values < k) & ~hidden)
    # No line with a visible total has exactly one hidden cell.
    for lines, totals_hidden in ((hidden, result.row_total_suppressed.to_numpy()),
                                 (hidden.T, result.column_total_suppressed.to_numpy())):
        for line, total_hidden in zip(lines, totals_hidden):
            assert line.sum() != 1 or total_hidden
    # A shown grand total never gives away a single hidden cell or a single hidden total.
    if not result.grand_total_suppressed:
        assert hidden.sum() != 1
        assert result.row_total_suppressed.sum() != 1 and result.column_total_suppressed.sum() != 1
        assert values.sum() == 0 or values.sum() >= k
    # Shown cells are exactly the counts.
    shown = result.shown().to_numpy()
    assert all(shown[i, j] == values[i, j] for i, j in zip(*np.where(~hidden)))
