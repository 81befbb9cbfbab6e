"""A worker's own proof that it still works: a file its consumer touches from the worker's timer.

`cleanroom health` in a worker container is a fresh process; by itself it proves nothing about
the worker beside it. The consumer bootstep below touches CLEANROOM_WORKER_LIVENESS_FILE every
CLEANROOM_WORKER_LIVENESS_SECONDS from `c.timer`; on RabbitMQ and Redis that timer is the event
loop's own, so a loop stuck in a task's C call, a deadlock or a stopped process stops the
touches, and the probe finds the file stale. (On the embedded folder broker, which has no event
loop, Celery's timer is a thread: it still stops with a stopped or dead process.)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)
# The file may be this many intervals old before the worker counts as hung: one late tick (a
# busy timer, a slow disk) is not a hang.
STALE_AFTER_INTERVALS = 3


def liveness_file() -> Path:
    return Path(settings.CLEANROOM_WORKER_LIVENESS_FILE)


def liveness_interval() -> float:
    return float(settings.CLEANROOM_WORKER_LIVENESS_SECONDS)


def check_worker_heartbeat() -> None:
    """Raise when the worker's liveness file is missing or older than 3 intervals."""
    path = liveness_file()
    limit = STALE_AFTER_INTERVALS * liveness_interval()
    try:
        touched = path.stat().st_mtime
    except FileNotFoundError:
        raise RuntimeError(f"{path} is missing: the worker is not running or has not started consuming") from None
    age = time.time() - touched
    if age > limit:
        raise RuntimeError(f"{path} was last touched {age:.1f} s ago (limit {limit:g} s): the worker is hung or gone")


class LivenessFile(bootsteps.StartStopStep):
    """Consumer step: touch the liveness file once consuming starts, then every interval."""

    # After the task consumer: the file says the worker takes tasks, not only that it booted.
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.path = liveness_file()
        self.interval = liveness_interval()
        self.entry: Any = None

    def touch(self) -> None:
        try:
            self.path.touch()
        except OSError as exc:  # the probe will fail on the stale file; say why here
            logger.warning("cannot touch the liveness file %s: %s", self.path, exc)

    def start(self, parent: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.touch()
        self.entry = parent.timer.call_repeatedly(self.interval, self.touch)

    def stop(self, parent: Any) -> None:
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        # A worker that shut down cleanly is not alive: the next probe must not read an old file.
        self.path.unlink(missing_ok=True)
