"""`cached_property` without the lock Python 3.11 puts around it.

In Python 3.11, functools.cached_property holds one lock per property, shared by every
instance of the class, while it computes (3.12 removed it). A property that reads the
database then waits for every other request computing the same property on its own
object; one whose read begins a SQLite write transaction waits for the writer queue
while holding that lock, and a request holding the queue that asks for the same property
waits for it: both wait for ever (issue 28, a stalled server). The objects that cache
here live for one request in one thread, so they need no lock at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class cached_property(Generic[T]):  # noqa: N801 - named as the functools one it replaces
    """Computed on first access, then kept in the instance's __dict__ (which wins over
    this non-data descriptor from then on). No lock: one object, one thread."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        if instance is None:
            return self  # type: ignore[return-value]
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
