"""How many cores this process may use, and when work is big enough to spread over them."""

from __future__ import annotations

import math
import os
from pathlib import Path

# Requests of at least this many rows (batch files) run their features and booster on every usable core; fewer rows
# (single predictions) stay on one thread, where threads only add latency.
PARALLEL_ROWS = 20_000


def usable_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may run on: its affinity, capped by a cgroup CPU quota (a container limited to
    2 CPUs on a 32-core node gets 2)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)
