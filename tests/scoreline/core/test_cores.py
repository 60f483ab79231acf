"""usable_cores: the affinity, capped by a cgroup CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

from scoreline.core.cores import usable_cores


def test_usable_cores_follow_the_affinity_and_a_cgroup_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    assert usable_cores(cpu_max) == affinity
    cpu_max.write_text("50000 100000\n")
    assert usable_cores(cpu_max) == 1
    cpu_max.write_text(f"{affinity * 100000 + 1} 100000\n")
    assert usable_cores(cpu_max) == affinity
    assert usable_cores(tmp_path / "missing") == affinity
