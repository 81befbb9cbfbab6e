"""One reconciler for every kind of queued work: nothing stays `queued` or `running` for ever.

The database is the truth, never the broker: the embedded `filesystem://` transport deletes a
message once a worker fetches it, so a worker that dies takes the message with it (Redis hands it
back only after its visibility timeout), and an enqueue after commit may fail while the broker is
down. Each app declares its kinds as a `Reconciler` (listed by dotted path in
`settings.CLEANROOM_RECONCILERS`, imported on first use, so `core` imports no app); `reconcile()`
applies three rules to each:

- a row `queued` for longer than its queue deadline lost its message before any worker took it:
  the app's `resend` sends it again (a claim keeps the work single-run);
- a row `running` whose heartbeat stopped (core.heartbeat: older than
  CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS) lost its worker: the app's `lose` fails it as
  `worker_lost` through its own transition service (with its audit event), at once; work claimed
  on other rows (an asset's auditor runs) is put back and sent again by the app's
  `release_silent`;
- a row `running` for longer than its hard time limit plus a grace lost its worker too, whatever
  its heartbeat says (a worker that keeps none, or a hung task on a pool that cannot kill it):
  `lose` fails it the same way.

One pass at a time: every pass takes the same PostgreSQL advisory lock, for its transaction
only, and a pass that cannot take it does nothing (SQLite serialises writers anyway).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.heartbeat import has_heartbeat, silent

logger = logging.getLogger(__name__)
RECONCILE_LOCK = 0x636C_6E72  # "clnr": the PostgreSQL advisory lock every reconciler pass takes
# How the reconciler found a worker lost, as `lose` is told (it words the row's error with it).
PAST_TIME_LIMIT = "past its time limit"
NO_HEARTBEAT = "no heartbeat for {} s"


def advisory_lock(key: int) -> bool:
    """Try to take a PostgreSQL advisory lock until the current transaction ends (must run
    inside `transaction.atomic`). False when another transaction holds it. Other databases
    serialise their writers, so there it is always taken."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("advisory_lock() must run inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def grace() -> timedelta:
    return timedelta(seconds=settings.CLEANROOM_RECONCILE_GRACE_SECONDS)


def resend_queued(model: Any, task: Any, queued_status: str, ids: list[str], **task_kwargs: Any) -> None:
    """Send each still-queued row's task again under a fresh task id, stored on the row first (so
    a cancel revokes the newest message), once the reconciler's transaction commits."""
    sends = []
    for pk in ids:
        task_id = str(uuid.uuid4())
        if model.objects.filter(pk=pk, status=queued_status).update(task_id=task_id, updated_at=timezone.now()):
            sends.append((pk, task_id))
    transaction.on_commit(lambda: [task.apply_async((pk,), task_kwargs, task_id=task_id) for pk, task_id in sends])


@dataclass(frozen=True)
class Reconciler:
    """How one kind of work is found stuck and put right.

    `queued_since` / `running_since` name the timestamp fields the deadlines count from;
    `resend(ids, cutoff)` runs inside the pass's transaction (it must move `queued_since`
    forward, so a message is sent again once per deadline, and send after commit);
    `lose(id, why)` fails one row through the app's transition service, saying `why`
    (PAST_TIME_LIMIT, or NO_HEARTBEAT), and tolerates a row that ended meanwhile. A `model` with
    a `heartbeat_at` field gets the heartbeat rule on its `running_status` rows.
    `running_status=None`: the kind has no running rule, its claims live on other rows;
    `release_silent(now)` then puts back, inside the pass's transaction, the claims whose
    heartbeat stopped, and returns the ids of the rows to send again at once."""

    kind: str
    # Any model with a `status` field and an `objects` manager, which mypy cannot spell.
    model: type[Any]
    queued_status: str
    queued_since: str
    queue_deadline: Callable[[], timedelta]
    resend: Callable[[list[str], datetime], None]
    running_status: str | None = None
    running_since: str = ""
    running_deadline: Callable[[], timedelta] | None = None
    lose: Callable[[str, str], None] | None = None
    release_silent: Callable[[datetime], list[str]] | None = None

    def stale(self, status: str, field: str, cutoff: datetime) -> list[str]:
        rows = self.model.objects.filter(status=status, **{f"{field}__lt": cutoff})
        return [str(pk) for pk in rows.order_by(field).values_list("pk", flat=True)]

    def apply(self, now: datetime, queue_deadline: timedelta | None = None) -> dict[str, list[str]]:
        cutoff = now - (queue_deadline if queue_deadline is not None else self.queue_deadline())
        resent = self.stale(self.queued_status, self.queued_since, cutoff)
        if self.release_silent:
            resent += [pk for pk in self.release_silent(now) if pk not in resent]
        if resent:
            self.resend(resent, cutoff)
        lost: list[str] = []
        if self.running_status and self.lose:
            if has_heartbeat(self.model):
                why = NO_HEARTBEAT.format(settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS)
                for pk in silent(self.model, self.running_status, now):
                    self.lose(pk, why)
                    lost.append(pk)
            if self.running_deadline:
                # Rows the heartbeat rule just failed are no longer running: never lost twice.
                for pk in self.stale(self.running_status, self.running_since, now - self.running_deadline() - grace()):
                    self.lose(pk, PAST_TIME_LIMIT)
                    lost.append(pk)
        if resent or lost:
            logger.warning("reconciled %s: sent again %s, lost %s", self.kind, resent, lost)
        return {"resent": resent, "lost": lost}


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[Reconciler, ...]:
    return tuple(import_string(path) for path in paths)


def reconcilers(kinds: Iterable[str] | None = None) -> tuple[Reconciler, ...]:
    loaded = _load(tuple(settings.CLEANROOM_RECONCILERS))
    return loaded if kinds is None else tuple(r for r in loaded if r.kind in set(kinds))


def reconcile(
    *, kinds: Iterable[str] | None = None, now: datetime | None = None, queue_deadline: timedelta | None = None
) -> dict[str, dict[str, list[str]]] | None:
    """One pass over every registered kind (or those named), in one transaction under
    RECONCILE_LOCK; `queue_deadline` overrides each kind's own. Returns {kind: {"resent":
    [ids], "lost": [ids]}}, or None when another pass holds the lock (it does the work)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not advisory_lock(RECONCILE_LOCK):
            logger.info("another reconciler holds the lock; this pass does nothing")
            return None
        return {reconciler.kind: reconciler.apply(now, queue_deadline) for reconciler in reconcilers(kinds)}
