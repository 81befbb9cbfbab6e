"""Riding out a lost database connection (a PostgreSQL restart or failover) in long-running work.

Django reconnects on the next query once a connection is closed, but a step that was cut off
raises and, left alone, takes a whole batch down with it. `retry_on_lost_connection` runs the
step again once the database answers, for up to CLEANROOM_DB_RECONNECT_SECONDS. Only a step
that is whole by itself may be retried: it opens its own transaction (so a cut-off attempt rolled
back entirely) and is not called inside an outer one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")


def connection_lost() -> bool:
    """True when the default connection is gone or no longer answers (not a deadlock, a timeout
    or another error of a query on a live connection)."""
    return connection.connection is None or not connection.is_usable()


def retry_on_lost_connection(step: Callable[[], T], *, what: str) -> T:
    deadline = time.monotonic() + settings.CLEANROOM_DB_RECONNECT_SECONDS
    pause = 0.2
    while True:
        try:
            return step()
        except (OperationalError, InterfaceError) as exc:
            # Inside an outer transaction the work before this step is lost too: not ours to redo.
            if connection.in_atomic_block or not connection_lost() or time.monotonic() > deadline:
                raise
            logger.warning("%s: the database connection was lost (%s); trying again", what, str(exc).strip()[:200])
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
