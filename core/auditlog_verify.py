"""`Verify chain` on the audit log page: `auditlog verify` run as a background job."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from core.audit import auditlog_verify
from core.background import Progress
from core.models import AuditEvent, BackgroundJob

AUDITLOG_VERIFY_KIND = "auditlog_verify"


def auditlog_verify_run(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """Recompute the whole chain; the result says `valid`, or the first bad event's seq and why.

    The check reads the log in one transaction, so the progress bar shows how many events there
    are to check and fills when the check ends."""
    last = AuditEvent.objects.aggregate(last=Max("seq"))["last"]
    progress(0, last or 0)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One snapshot for the rows and the chain's head: the log keeps growing while a
            # worker checks it, and under READ COMMITTED the head, read last, would be ahead of
            # the rows read first, which the check reports as events removed.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        report = auditlog_verify()
    return {
        "valid": report.valid,
        "events": report.events,
        "first_bad_event": report.first_bad_event,
        "problem": report.problem,
    }
