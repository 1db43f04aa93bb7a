"""The gunicorn config `salesbot serve` passes by path (so the master imports no more than this): it forgets dead
workers' live metrics and removes the metrics directory serve made for this start."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from salesbot import metrics

MADE_BY_SERVE = "salesbot-metrics-"  # the prefix of directories serve makes; an operator's own is left alone


def child_exit(server: Any, worker: Any) -> None:
    metrics.worker_gone(worker.pid)


def on_exit(server: Any) -> None:
    folder = os.environ.get(metrics.MULTIPROCESS_DIR, "")
    if folder and Path(folder).name.startswith(MADE_BY_SERVE):
        shutil.rmtree(folder, ignore_errors=True)
