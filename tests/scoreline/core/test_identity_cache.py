from __future__ import annotations

from typing import Any

import pytest

from scoreline.core.identity_cache import IdentityCache


def test_builds_once_per_object_and_tells_equal_objects_apart() -> None:
    built: list[dict[str, Any]] = []

    def build(state: dict[str, Any]) -> int:
        built.append(state)
        return len(built)

    cache = IdentityCache(build)
    state, equal_state = {"teams": ["A"]}, {"teams": ["A"]}
    assert cache(state) == 1
    assert cache(state) == 1
    assert cache(equal_state) == 2  # equal but not the same object: a state of another version
    assert built == [state, equal_state]


def test_keeps_only_the_most_recent() -> None:
    calls: list[int] = []
    cache = IdentityCache(lambda state: calls.append(id(state)) or len(calls), size=2)
    first, second, third = {}, {}, {}
    cache(first), cache(second), cache(third)
    assert len(cache) == 2
    cache(third), cache(second)
    assert len(calls) == 3  # both still cached
    cache(first)
    assert len(calls) == 4  # evicted, built again


def test_refuses_an_empty_cache() -> None:
    with pytest.raises(ValueError, match="at least one"):
        IdentityCache(lambda state: state, size=0)
