"""The heartbeat of claimed work: how the reconciler tells a worker that died from one still at it.

A broker does not always hand back the message of a worker that died: the embedded folder broker
never does once the worker process itself is gone, and Redis only after its visibility timeout
(hours). So the database says it: `StateMachine.claim` stamps the row's `heartbeat_at`, and the
worker keeps it fresh while it works (`heartbeat`, a thread that writes every
CLEANROOM_HEARTBEAT_SECONDS); the reconciler (core.reconcile, beat) takes a row still `running`
whose heartbeat is older than CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS as lost at once, long before
any deadline. A row whose `heartbeat_at` is empty (claimed by a worker that keeps none) is left
to the deadlines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)
HEARTBEAT_FIELD = "heartbeat_at"


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS)


def heartbeat_cutoff(now: datetime) -> datetime:
    """A row whose last heartbeat is older than this, at `now`, lost its worker."""
    return now - heartbeat_timeout()


def has_heartbeat(model: type[Any]) -> bool:
    return any(f.name == HEARTBEAT_FIELD for f in model._meta.concrete_fields)


def silent(model: type[Any], running: str, now: datetime) -> list[str]:
    """The ids of `model` rows `running` whose heartbeat stopped (oldest first), locked until the
    caller's transaction ends (the reconciler's pass), so that no beat lands between this look
    and what the caller does with them. A row locked right now is skipped: a beat, or its
    worker moving it, is writing it, so it is not silent."""
    rows = model.objects.select_for_update(skip_locked=True).filter(
        status=running, **{f"{HEARTBEAT_FIELD}__lt": heartbeat_cutoff(now)}
    )
    return [str(pk) for pk in rows.order_by(HEARTBEAT_FIELD).values_list("pk", flat=True)]


@contextmanager
def heartbeat(model: type[Any], pk: Any, *, running: str, task_id: str = "") -> Iterator[None]:
    """Keep the claimed row's heartbeat fresh while the block runs: a thread stamps it every
    CLEANROOM_HEARTBEAT_SECONDS, only while the row is still `running` under `task_id` (a row that
    ended, or that another task took, is never written). Start it right after the claim, around
    the whole of the work; the thread ends with the block, closing its own database connection."""
    stop = threading.Event()
    thread = threading.Thread(target=_beat_until, args=(stop, model, pk, running, task_id), name=f"heartbeat-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # A beat never waits for a row lock (it skips a locked row), so the thread ends at once,
        # unless its database is out of reach: then it ends on its own, still closing its connection.
        thread.join(timeout=5)


def _beat_until(stop: threading.Event, model: type[Any], pk: Any, running: str, task_id: str) -> None:
    try:
        while not stop.wait(settings.CLEANROOM_HEARTBEAT_SECONDS):
            try:
                _beat(model, pk, running, task_id)
            except DatabaseError:
                # A missed beat is not fatal (the timeout allows several); the next one reconnects.
                logger.warning("heartbeat of %s %s missed a beat", model.__name__, pk, exc_info=True)
                connection.close()
    finally:
        connections.close_all()  # this thread's own connections only: Django's are per thread


def _beat(model: type[Any], pk: Any, running: str, task_id: str) -> None:
    # The row lock is skipped, not waited for: a row locked right now is being moved by its
    # worker (or the reconciler), and waiting could deadlock a worker that ends the heartbeat
    # while it holds that lock.
    with transaction.atomic():
        rows = model.objects.select_for_update(skip_locked=True).filter(pk=pk, status=running)
        if task_id:
            rows = rows.filter(task_id=task_id)
        if list(rows.values_list("pk", flat=True)):
            model.objects.filter(pk=pk).update(**{HEARTBEAT_FIELD: timezone.now()})
