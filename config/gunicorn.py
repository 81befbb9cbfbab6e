"""gunicorn hooks for `cleanroom web` (the bind, workers and timeouts come from its arguments)."""

from __future__ import annotations

from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's live gauges must stop counting; its counters and histograms stay summed.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
