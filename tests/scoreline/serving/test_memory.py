"""The heap is settled after a swap without walking the frozen heap, and collected whole every few settles."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from scoreline.serving import memory


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


@pytest.fixture
def fresh_settling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(memory, "_settled", memory._Settled())
    yield
    gc.unfreeze()  # leave the test process's collector as it was


def test_a_full_collection_first_and_then_every_nth_settle() -> None:
    assert [memory.needs_full_collection(n, every=3) for n in range(7)] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]


def test_settling_after_a_swap_frees_new_cycles_and_keeps_frozen_ones_until_a_full_collection(
    fresh_settling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_version = Node()
    old = weakref.ref(old_version)
    assert memory.settle_heap()  # the first load: everything collected, the survivors frozen
    assert gc.get_freeze_count() > 0

    loading_garbage = Node()
    new = weakref.ref(loading_garbage)
    del old_version, loading_garbage  # the swap drops the old version; loading left a cycle behind
    assert not memory.settle_heap()  # after a swap: only the young generations are walked
    assert new() is None
    assert old() is not None  # a cycle of the frozen heap waits for a full collection

    monkeypatch.setattr(memory, "FULL_EVERY", 2)  # the next settle is a full one
    assert memory.settle_heap()
    assert old() is None
