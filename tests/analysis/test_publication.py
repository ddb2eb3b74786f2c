"""The record of what the output layer publishes: kept only while someone records."""

from analysis import publication
from analysis.publication import Cells, Derived, Figure


def figure(n: int | None, words: str | None = None) -> Figure:
    return Figure(Cells("Wave 1", ("North",), ("Faith",), "trust"), n, None if n is None else 3.2, words)


def test_figures_are_kept_only_while_recording():
    publication.publish([figure(12)])  # nobody records: nothing kept, nothing fails
    assert not publication.recording_open()
    with publication.recording() as ledger:
        assert publication.recording_open()
        publication.publish([figure(12), figure(None, "fewer than 5 responses")],
                            [Derived("change", (figure(12).cells,))])
    publication.publish([figure(40)])
    assert [f.count for f in ledger.figures] == [12, None]
    assert ledger.figures[1].withheld == "fewer than 5 responses"
    assert ledger.derived == [Derived("change", (figure(12).cells,))]
    assert not publication.recording_open()


def test_a_row_count_is_a_number_or_the_words_shown_instead():
    assert publication.count_of(7) == (7, None)
    assert publication.count_of("fewer than 5 responses") == (None, "fewer than 5 responses")
    assert publication.count_of(None) == (None, None)
