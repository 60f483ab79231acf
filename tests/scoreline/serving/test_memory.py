"""The heap is settled after a swap without walking the frozen heap, and collected whole when it has regrown."""

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


def test_a_full_collection_first_and_when_the_heap_has_regrown_by_the_set_share() -> None:
    assert memory.needs_full_collection(1_000, None)
    assert not memory.needs_full_collection(1_250, 1_000, regrowth=0.25)
    assert memory.needs_full_collection(1_251, 1_000, regrowth=0.25)


def test_settling_after_a_swap_frees_new_cycles_and_keeps_frozen_ones_until_the_heap_regrows(
    fresh_settling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_version = Node()
    old = weakref.ref(old_version)
    assert memory.settle_heap()  # the first load: everything collected, the survivors frozen
    assert gc.get_freeze_count() > 0

    loading_garbage = Node()
    new = weakref.ref(loading_garbage)
    del old_version, loading_garbage  # the swap drops the old version; loading left a cycle behind
    assert not memory.settle_heap()  # after a swap: only what is not frozen is walked
    assert new() is None
    assert old() is not None  # a cycle of the frozen heap waits for a full collection

    monkeypatch.setattr(memory, "REGROWTH", -1.0)  # as if the heap had grown past the share
    assert memory.settle_heap()
    assert old() is None
    assert memory._settled.full_collections == 2
