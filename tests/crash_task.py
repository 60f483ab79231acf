"""Test-only task plug-ins whose training misbehaves in native ways, for the trainer's job processes.

``SCORELINE_TASK_PLUGINS=tests.crash_task:CrashOnTrainTask,tests.crash_task:SlowTrainTask``: both are esports-win
(same data, adapters and serving) except for the training table, which only the trainer's job builds:
- ``crash-on-train`` calls ``os.abort()`` (SIGABRT, as a native crash in a C extension would);
- ``slow-on-train`` sleeps (for timeouts, cancellation and the concurrency limit).
Nothing happens at import time.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import pandas as pd

from scoreline.tasks.base import TrainingTable
from scoreline.tasks.esports_win.task import EsportsWinTask


class CrashOnTrainTask(EsportsWinTask):
    id: ClassVar[str] = "crash-on-train"
    title: ClassVar[str] = "Crashes its training process (test plug-in)"

    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        os.abort()


class SlowTrainTask(EsportsWinTask):
    id: ClassVar[str] = "slow-on-train"
    title: ClassVar[str] = "Trains for ten minutes (test plug-in)"

    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        time.sleep(600)
        return super().training_table(canonical)
