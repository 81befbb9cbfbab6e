"""`Verify chain` on the audit log page: `auditlog verify` run as a background job."""

from __future__ import annotations

from typing import Any

from core.audit import auditlog_verify
from core.background import Progress
from core.models import AuditChainHead, BackgroundJob

AUDITLOG_VERIFY_KIND = "auditlog_verify"


def auditlog_verify_run(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """Recompute the whole chain; the result says `valid`, or the first bad event's seq and why.

    The check reads the log in one transaction, so the progress bar shows how many events there
    are to check and fills when the check ends."""
    head_seq = AuditChainHead.objects.filter(pk=1).values_list("seq", flat=True).first()
    progress(0, head_seq or 0)
    report = auditlog_verify()
    return {
        "valid": report.valid,
        "events": report.events,
        "first_bad_event": report.first_bad_event,
        "problem": report.problem,
    }
