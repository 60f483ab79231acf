"""A supervisor preloads each remembered champion before it forks its workers (scoreline.serving.reloader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scoreline.serving import reloader
from scoreline.tasks import get_task

TASK = "match-outcome"


def remember(cache_dir: Path, task_id: str, version: str, bundle_dir: Path) -> None:
    (cache_dir / "champions").mkdir(parents=True, exist_ok=True)
    entry = {"version": version, "bundle_dir": str(bundle_dir), "model_name": f"scoreline-{task_id}"}
    (cache_dir / "champions" / f"{task_id}.json").write_text(json.dumps(entry))


@pytest.fixture
def preloaded(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str, str], Any]:
    fresh: dict[tuple[str, str, str], Any] = {}
    monkeypatch.setattr(reloader, "_preloaded", fresh)
    return fresh


def test_the_remembered_champion_is_preloaded_with_its_few_row_features_run_once(
    small_bundle: Any, tmp_path: Path, preloaded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle_dir = small_bundle.save(tmp_path / "bundle")
    remember(tmp_path / "cache", TASK, "7", bundle_dir)
    task_type = type(get_task(TASK))
    original = task_type.serving_rows
    rows: list[np.ndarray] = []

    def recording(self: Any, compiled: Any, instances: Any) -> Any:
        rows.append(np.asarray(original(self, compiled, instances)))
        return rows[-1]

    monkeypatch.setattr(task_type, "serving_rows", recording)

    assert reloader.preload_cached_champions(tmp_path / "cache", [TASK, "no-such-task"]) == [TASK]

    assert len(rows) == 1 and rows[0].shape == (len(small_bundle.input_example), len(small_bundle.feature_names))
    served = reloader._cached_bundle(TASK, "7", bundle_dir)
    assert served is preloaded[(TASK, "7", str(bundle_dir))]
    assert reloader._cached_bundle(TASK, "8", bundle_dir) is not served  # another version loads on its own


def test_a_remembered_champion_that_does_not_load_is_left_to_the_worker(tmp_path: Path, preloaded: dict) -> None:
    remember(tmp_path / "cache", TASK, "3", tmp_path / "gone")
    (tmp_path / "cache" / "champions" / "broken.json").write_text("{not json")

    assert reloader.preload_cached_champions(tmp_path / "cache", [TASK, "broken"]) == []
    assert preloaded == {}


def test_a_failing_few_row_path_still_preloads_the_bundle(
    small_bundle: Any, tmp_path: Path, preloaded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle_dir = small_bundle.save(tmp_path / "bundle")
    remember(tmp_path / "cache", TASK, "5", bundle_dir)

    def broken(self: Any, compiled: Any, instances: Any) -> Any:
        raise ValueError("no few-row path today")

    monkeypatch.setattr(type(get_task(TASK)), "serving_rows", broken)

    assert reloader.preload_cached_champions(tmp_path / "cache", [TASK]) == [TASK]
    assert (TASK, "5", str(bundle_dir)) in preloaded
