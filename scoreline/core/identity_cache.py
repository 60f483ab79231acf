"""What was built from a few recent objects, found again by identity.

A served version's serving state is a JSON dict (unhashable, and equal states of two versions must not share
their compiled form by accident); serving asks for its compiled form on every request, so the last few are
kept and found by ``is``. A handful is enough: a swap serves a new state, the old one stays until the
requests that started on it have finished.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Source = TypeVar("Source")
Built = TypeVar("Built")


class IdentityCache(Generic[Source, Built]):
    def __init__(self, build: Callable[[Source], Built], size: int = 4) -> None:
        if size < 1:
            raise ValueError("an identity cache keeps at least one entry")
        self._build = build
        self._size = size
        self._entries: list[tuple[Source, Built]] = []  # most recent first

    def __call__(self, source: Source) -> Built:
        for known, built in self._entries:
            if known is source:
                return built
        built = self._build(source)
        # A new list rather than an insert: a concurrent reader iterates the old one unharmed.
        self._entries = [(source, built), *self._entries[: self._size - 1]]
        return built

    def __len__(self) -> int:
        return len(self._entries)
