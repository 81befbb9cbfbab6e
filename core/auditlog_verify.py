"""`Verify chain` on the audit log page: `auditlog verify` run as a background job."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from core.audit import auditlog_verify
from core.background import Progress
from core.models import AuditEvent, BackgroundJob

AUDITLOG_VERIFY_KIND = "auditlog_verify"


def auditlog_verify_run(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """Recompute the whole chain; the result says `valid`, or the first bad event's seq and why.

    The check reads the log in one snapshot, so the progress bar shows how many events there are
    to check and fills when the check ends."""
    last = AuditEvent.objects.aggregate(last=Max("seq"))["last"]
    progress(0, last or 0)
    report = auditlog_verify()
    return {
        "valid": report.valid,
        "events": report.events,
        "first_bad_event": report.first_bad_event,
        "problem": report.problem,
    }
