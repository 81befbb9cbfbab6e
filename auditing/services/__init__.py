"""Auditing's writes. Public names are re-exported here: callers import `auditing.services`.

- `audits`: the audit pipeline (request, run each auditor once per version, conclude,
  reconcile) and finding resolution.
- `protected`, `protected_index`: the registry of protected works and its near-duplicate index.
"""

from auditing.services.audits import (
    AUDIT_RUN_STATES,
    RECONCILER,
    asset_audit_run,
    audit_run_failed,
    audits_reconcile,
    audits_request,
    audits_request_after_ingest,
    enqueue_each,
    finding_resolve,
)

__all__ = [
    "AUDIT_RUN_STATES",
    "RECONCILER",
    "asset_audit_run",
    "audit_run_failed",
    "audits_reconcile",
    "audits_request",
    "audits_request_after_ingest",
    "enqueue_each",
    "finding_resolve",
]
