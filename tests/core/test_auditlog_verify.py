"""`Verify chain`'s runner (core/auditlog_verify.py) on a log that grows while it is checked."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from core.audit import audit_append
from core.auditlog_verify import AUDITLOG_VERIFY_KIND, auditlog_verify_run
from core.background import background_start
from core.models import AuditEvent, EventType

pytestmark = pytest.mark.django_db(transaction=True)

WAITING_FOR_THE_HEAD = """
    SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation
    WHERE pg_class.relname = 'core_auditchainhead' AND NOT pg_locks.granted
"""


def append_while_the_check_waits(checker_started: threading.Event, problems: list[str]) -> None:
    """Another writer: appends an event, holds the chain's head until the check has read the
    rows and waits to read the head, then commits."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE core_auditchainhead IN ACCESS EXCLUSIVE MODE")
            audit_append(actor="rita", event_type=EventType.DATASET_CREATED, subject=("dataset", "late"))
            checker_started.set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with connection.cursor() as cursor:
                    cursor.execute(WAITING_FOR_THE_HEAD)
                    if cursor.fetchone()[0]:
                        return
                time.sleep(0.01)
            problems.append("the check never waited for the chain's head")
    finally:
        connection.close()


def test_an_event_appended_during_the_check_is_no_fault(operator) -> None:
    with transaction.atomic():
        for number in range(3):
            audit_append(actor="rita", event_type=EventType.DATASET_CREATED, subject=("dataset", f"set-{number}"))
    job = background_start(kind=AUDITLOG_VERIFY_KIND, actor=operator, params={})
    checked_before = AuditEvent.objects.count()
    started, problems = threading.Event(), []
    writer = threading.Thread(target=append_while_the_check_waits, args=(started, problems))
    writer.start()
    started.wait(10)

    result = auditlog_verify_run(job, lambda done, total=None: None)

    writer.join(10)
    assert problems == []
    assert result == {"valid": True, "events": checked_before, "first_bad_event": None, "problem": None}
    assert AuditEvent.objects.count() == checked_before + 1
