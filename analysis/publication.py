"""What the output layer publishes, recorded figure by figure, so an auditor can check
that no combination of published figures gives a withheld group away.

Every figure the Results pages, their downloads and charts, and the briefings show
comes from `analysis.routes.CachedResults`, which passes it here as it hands it out. A
figure names the atomic cells it sums over: wave × places × sectors × measure (a
construct, a single question, "(any answer)" for responding at all, or a trust block
"trust → <target>" rated by the sector), with its count and mean as shown, or the
words it is withheld with. A figure that is not a sum (the sector-mix adjustment, a
panel's paired change, a change in trust) is `Derived`: it names the groups it depends
on, each of which must itself be published.

Nothing is kept unless a `recording()` is open: the auditor test
(tests/analysis_web/test_auditor.py) opens one around every page and download it
fetches. Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

TRUST = "trust → "  # a trust block's measure: TRUST + the target sector


@dataclass(frozen=True)
class Cells:
    """A group of atomic cells: one wave, these places, these sectors (None: every
    sector), one measure."""

    wave: str
    places: tuple[str, ...]
    sectors: tuple[str, ...] | None
    measure: str


@dataclass(frozen=True)
class Figure:
    cells: Cells
    count: int | None  # None where withheld
    mean: float | None  # None where withheld or not shown (a question's count alone)
    withheld: str | None = None  # the words shown instead
    # Withheld in a comparison because either wave withholds it: its words say nothing
    # about this wave's own count.
    either_wave: bool = False


@dataclass(frozen=True)
class Derived:
    what: str
    depends_on: tuple[Cells, ...] = field(default=())


@dataclass
class Ledger:
    figures: list[Figure] = field(default_factory=list)
    derived: list[Derived] = field(default_factory=list)


_open: ContextVar[Ledger | None] = ContextVar("publication_ledger", default=None)


@contextmanager
def recording() -> Iterator[Ledger]:
    """Record everything published until the block ends."""
    ledger = Ledger()
    token = _open.set(ledger)
    try:
        yield ledger
    finally:
        _open.reset(token)


def publish(figures: Iterable[Figure] = (), derived: Iterable[Derived] = ()) -> None:
    """Note these figures as published, if anyone is recording."""
    ledger = _open.get()
    if ledger is not None:
        ledger.figures.extend(figures)
        ledger.derived.extend(derived)


def recording_open() -> bool:
    return _open.get() is not None


def count_of(value) -> tuple[int | None, str | None]:
    """A row's count as (count, None), or (None, the words) where it is withheld."""
    if isinstance(value, str):
        return None, value
    return (None if value is None else int(value)), None
