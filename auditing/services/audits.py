"""The audit pipeline: request (asset → auditing, task enqueued after commit), run (each auditor
once per version, claimed idempotently), conclude (clear, or flagged while a finding is open),
reconcile (nothing stays `auditing` for ever) and resolve findings.

An auditor that fails (raises, or its worker dies while it runs) fails only its own run; the
others still run and the reconciler sends the asset again (at once when the run's heartbeat
stopped: core.heartbeat). After settings.CLEANROOM_AUDIT_MAX_ATTEMPTS attempts its run is
abandoned: an `auditor_failed` finding stands in for its verdict, so the asset is concluded
`flagged` for a reviewer instead of being sent again for ever."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft
from auditing.models import AUDIT_RUN_SETTLED, AUDIT_RUN_TRANSITIONS, AuditRun, Finding, FindingStatus, RunStatus
from auditing.registry import auditors, current_versions
from auditing.services.claims import refuse_if_claimed_by_another
from core.audit import AuditEntry, actor_name, audit_append, audit_append_many
from core.exceptions import ApplicationError, PermissionDenied
from core.heartbeat import heartbeat, silent
from core.models import EventType
from core.reconcile import Reconciler, reconcile
from core.roles import Actor, Role, actor_user, has_role
from core.state import StateMachine
from core.storage import blob_open
from provenance.ingest.refusals import plain_error
from provenance.models import Asset, AssetStatus
from provenance.services.assets import asset_transition, assets_review, assets_transition

logger = logging.getLogger(__name__)
AUDITABLE = {AssetStatus.INGESTED, AssetStatus.CLEAR, AssetStatus.FLAGGED}
# The finding that stands in for the verdict of an auditor given up on an asset.
AUDITOR_FAILED = "auditor_failed"
_WORKER_STOPPED = "its worker stopped while it ran (crashed, ran out of memory or time, or was killed)"


def _needs_audit(asset_id) -> bool:
    return bool(_needing_audit([asset_id]))


def _needing_audit(asset_ids: list) -> list:
    """The assets among these that lack a settled run (done, or abandoned) of some current
    auditor version."""
    wanted = set(current_versions().items())
    done: dict = {}
    settled = AuditRun.objects.filter(asset_id__in=asset_ids, status__in=AUDIT_RUN_SETTLED)
    for asset_id, name, version in settled.values_list("asset_id", "auditor", "auditor_version"):
        done.setdefault(str(asset_id), set()).add((name, version))
    return [asset_id for asset_id in asset_ids if not wanted <= done.get(str(asset_id), set())]


def _enqueue(asset_ids: list[str]) -> None:
    from auditing.tasks import audit_asset, audit_assets

    if len(asset_ids) == 1:
        audit_asset.delay(asset_ids[0])
    else:
        audit_assets.delay(asset_ids)


def enqueue_each(asset_ids: list[str]) -> None:
    from auditing.tasks import audit_asset

    with audit_asset.app.producer_or_acquire() as producer:  # one broker connection for the lot
        for asset_id in asset_ids:
            audit_asset.apply_async((asset_id,), producer=producer)


@transaction.atomic
def audits_request(*, asset_ids: list, actor: Actor = None) -> list[str]:
    """Queue an audit for each asset that lacks a run of a current auditor version. Assets
    already audited by these versions are left alone (re-running the same version is a no-op)."""
    auditable = list(Asset.objects.filter(pk__in=asset_ids, status__in=AUDITABLE).values_list("pk", flat=True))
    queued = assets_transition(
        asset_ids=_needing_audit([str(pk) for pk in auditable]), to=AssetStatus.AUDITING, actor=actor, reason="audit requested"
    )
    if queued:
        transaction.on_commit(lambda: _enqueue(queued))
    return queued


def audits_request_after_ingest(asset_ids: list[str], actor: Actor) -> None:
    if settings.CLEANROOM_AUDIT_ON_INGEST:
        audits_request(asset_ids=asset_ids, actor=actor)


def _subject(asset: Asset) -> AuditSubject:
    return AuditSubject(
        asset_id=str(asset.pk),
        sha256=asset.sha256,
        metadata=asset.metadata,
        caption=asset.caption,
        original_name=asset.original_name,
        open_file=functools.partial(blob_open, asset.sha256),
    )


# An auditor's run is the worker's bookkeeping: the governance events are the asset's moves and
# AUDIT_RUN_FINISHED, so its own moves are not written to the audit log. A run that may be
# claimed again (failed, or put back to queued) leaves `running` with its heartbeat cleared: the
# heartbeat belongs to one claim, and a later claim by a worker that keeps none (the previous
# release, during a rolling deploy) must not look silent.
AUDIT_RUN_STATES = StateMachine(AuditRun, AUDIT_RUN_TRANSITIONS, None, "audit run", reason_field=None, changed_at_field=None)


def _claim(run: AuditRun, task_id: str) -> AuditRun | None:
    """Take the run unless another worker holds it, counting the attempt. Running an auditor
    again is harmless, so a redelivered message (same task id, after its worker died) takes
    back its own run."""
    claimed = AUDIT_RUN_STATES.claim(
        run.pk,
        task_id=task_id,
        claimable={RunStatus.QUEUED, RunStatus.FAILED},
        running=RunStatus.RUNNING,
        lost=None,
        claimed_changes={"started_at": timezone.now(), "attempts": F("attempts") + 1},
    )
    if claimed is not None:
        claimed.refresh_from_db(fields=["attempts"])  # counted by the database
    return claimed


def max_attempts() -> int:
    return settings.CLEANROOM_AUDIT_MAX_ATTEMPTS


def asset_audit_run(*, asset_id: str, task_id: str) -> str:
    """Run every current auditor that has not yet settled on this asset, then conclude.

    An auditor that raises fails its own run and the next one runs; the asset stays `auditing`
    for the reconciler to send again. A run that fails its last attempt, or that is claimed
    again after its worker died on its last attempt, is abandoned (`_abandon`). The worker's
    heartbeat (core.heartbeat) runs while each auditor does."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None or asset.status != AssetStatus.AUDITING:
        return "skipped"
    subject = _subject(asset)
    for auditor in auditors():
        run, _ = AuditRun.objects.get_or_create(asset=asset, auditor=auditor.name, auditor_version=auditor.version)
        if run.status in AUDIT_RUN_SETTLED:
            continue
        # Read before the claim: a failed run says why; one left queued or running lost its worker.
        previous_error = run.error if run.status == RunStatus.FAILED and run.error else _WORKER_STOPPED
        claimed = _claim(run, task_id)
        if claimed is None:
            return "claimed_elsewhere"
        if claimed.attempts > max_attempts():  # the attempts before this claim used them all up
            _abandon(claimed, asset, attempts=claimed.attempts - 1, error=previous_error)
        else:
            with heartbeat(AuditRun, claimed.pk, running=RunStatus.RUNNING, task_id=task_id):
                _attempt(auditor, claimed, asset, subject)
    return _conclude(asset.pk)


def _attempt(auditor: Auditor, run: AuditRun, asset: Asset, subject: AuditSubject) -> None:
    """Run the auditor once: its findings, or its failure (abandoning the run on the last attempt)."""
    try:
        drafts = auditor.audit(subject)
    except Exception as exc:
        logger.exception("auditor %s failed on asset %s (attempt %d)", auditor.name, asset.pk, run.attempts)
        error = f"{type(exc).__name__}: {plain_error(exc)}"[:2000]
        if run.attempts >= max_attempts():
            _abandon(run, asset, attempts=run.attempts, error=error)
        else:
            AUDIT_RUN_STATES.transition(run.pk, to=RunStatus.FAILED, error=error, finished_at=timezone.now(), heartbeat_at=None)
        return
    _settle(run, asset, drafts, to=RunStatus.DONE, error="")


def _settle(
    run: AuditRun, asset: Asset, drafts: list[FindingDraft], *, to: str, event: dict[str, Any] | None = None, **changes: Any
) -> None:
    """Record a run's findings and its end (`done` or `abandoned`), with its audit event."""
    with transaction.atomic():
        for draft in drafts:
            Finding.objects.create(
                asset=asset,
                run=run,
                auditor=run.auditor,
                auditor_version=run.auditor_version,
                code=draft.code,
                score=draft.score,
                details=draft.details,
            )
        AUDIT_RUN_STATES.transition(run.pk, to=to, finished_at=timezone.now(), **changes)
        _supersede_older_findings(run)
        audit_append(
            actor=None,
            event_type=EventType.AUDIT_RUN_FINISHED,
            subject=asset,
            details={
                "auditor": run.auditor,
                "version": run.auditor_version,
                "findings": [d.code for d in drafts],
                **(event or {}),
            },
        )


SUPERSEDED = "superseded"


def _supersede_older_findings(run: AuditRun) -> None:
    """Dismiss the open findings an earlier version of this auditor left on the asset: the run
    that just settled is the auditor's verdict now (a version changes when what it decides
    changes, e.g. a false-positive fix), so an older version's finding must not keep the asset
    flagged. Each is dismissed by the platform (no reviewer), with the version that superseded
    it as the reason and one audit event; confirmed and dismissed findings are history and stay."""
    older = list(
        Finding.objects.select_for_update()
        .filter(asset_id=run.asset_id, auditor=run.auditor, status=FindingStatus.OPEN)
        .exclude(auditor_version=run.auditor_version)
    )
    if not older:
        return
    now = timezone.now()
    reason = f"superseded: re-audited by {run.auditor} {run.auditor_version}"
    Finding.objects.filter(pk__in=[finding.pk for finding in older]).update(
        status=FindingStatus.DISMISSED, resolved_by=None, resolution_reason=reason, resolved_at=now, updated_at=now
    )
    audit_append_many(
        [
            AuditEntry(
                actor=None,
                event_type=EventType.FINDING_RESOLVED,
                subject=finding,
                details={
                    "asset_id": str(finding.asset_id),
                    "code": finding.code,
                    "decision": SUPERSEDED,
                    "reason": reason,
                    "evidence_sha256": finding.evidence_sha256,
                },
            )
            for finding in older
        ]
    )


def _abandon(run: AuditRun, asset: Asset, *, attempts: int, error: str) -> None:
    """Give the auditor up on this asset: an open `auditor_failed` finding (which auditor, how
    often, the last error) takes the place of its verdict, so the asset is concluded `flagged`
    and a reviewer decides it."""
    plural = "" if attempts == 1 else "s"
    summary = (
        f"The {run.auditor} auditor failed {attempts} time{plural} on this image and was given up: "
        f"nothing it looks for has been checked. Last error: {error}"
    )
    finding = FindingDraft(code=AUDITOR_FAILED, score=1.0, details={"attempts": attempts, "error": error, "summary": summary})
    event = {"outcome": RunStatus.ABANDONED.value, "attempts": attempts, "error": error}
    _settle(run, asset, [finding], to=RunStatus.ABANDONED, event=event, error=error, attempts=attempts)


@transaction.atomic
def _conclude(asset_id) -> str:
    asset = Asset.objects.select_for_update().get(pk=asset_id)
    if asset.status != AssetStatus.AUDITING or _needs_audit(asset_id):
        return asset.status
    open_findings = Finding.objects.filter(asset_id=asset_id, status=FindingStatus.OPEN).count()
    outcome = AssetStatus.FLAGGED if open_findings else AssetStatus.CLEAR
    asset_transition(asset_id=asset_id, to=outcome, actor=None, reason=f"audited: {open_findings} open finding(s)")
    return outcome


def audit_run_failed(*, asset_id: str, task_id: str, error: str) -> None:
    for run_id in AuditRun.objects.filter(asset_id=asset_id, task_id=task_id, status=RunStatus.RUNNING).values_list(
        "pk", flat=True
    ):
        AUDIT_RUN_STATES.transition(
            run_id, to=RunStatus.FAILED, error=error[:2000], finished_at=timezone.now(), heartbeat_at=None
        )


def _audits_resend(asset_ids: list[str], cutoff) -> None:
    # A run left `running` since before the cutoff, and not beating since either, lost its
    # worker: queued again, so the resent message may claim it. A run started later, or still
    # beating, is someone's live work: untouched.
    not_beating = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)
    lost = AuditRun.objects.filter(not_beating, asset_id__in=asset_ids, status=RunStatus.RUNNING, started_at__lt=cutoff)
    AUDIT_RUN_STATES.transition_many(list(lost.values_list("pk", flat=True)), to=RunStatus.QUEUED, task_id="", heartbeat_at=None)
    # Not a move: the asset stays `auditing`; its clock restarts so it is resent once per deadline.
    Asset.objects.filter(pk__in=asset_ids).update(status_changed_at=timezone.now())
    transaction.on_commit(lambda: _enqueue(asset_ids))


def _audit_runs_release_silent(now) -> list[str]:
    """Put back to `queued` every auditor run whose heartbeat stopped (its worker died on it; the
    attempt was counted when it was claimed, so the next claim gives the run up once the
    attempts are spent), and return the assets still `auditing` among theirs, to send again now."""
    silent_runs = AuditRun.objects.filter(pk__in=silent(AuditRun, RunStatus.RUNNING, now))
    runs = list(silent_runs.values_list("pk", "asset_id"))
    AUDIT_RUN_STATES.transition_many([pk for pk, _ in runs], to=RunStatus.QUEUED, task_id="", heartbeat_at=None)
    waiting = Asset.objects.filter(pk__in={asset_id for _, asset_id in runs}, status=AssetStatus.AUDITING)
    return [str(pk) for pk in waiting.order_by("status_changed_at").values_list("pk", flat=True)]


# Assets left `auditing` past the deadline (a lost message, a dead worker), or whose auditor run
# stopped beating, are sent again; the claim is per auditor run, so there is no `running` rule
# on the asset itself.
RECONCILER = Reconciler(
    kind="audits",
    model=Asset,
    queued_status=AssetStatus.AUDITING,
    queued_since="status_changed_at",
    queue_deadline=lambda: timedelta(seconds=settings.CLEANROOM_AUDIT_DEADLINE_SECONDS),
    resend=_audits_resend,
    release_silent=_audit_runs_release_silent,
)


def audits_reconcile(*, older_than: timedelta | None = None) -> list[str]:
    """Re-enqueue assets left `auditing` past the deadline: the audits part of the shared pass
    (core.reconcile), under its advisory lock. Returns the assets sent again."""
    report = reconcile(kinds=[RECONCILER.kind], queue_deadline=older_than)
    return report[RECONCILER.kind]["resent"] if report else []


_RESOLUTIONS = {"dismiss": FindingStatus.DISMISSED, "confirm": FindingStatus.CONFIRMED}


def decision_refusal(*, reviewer: Actor, decision: str, reason: str) -> ApplicationError | None:
    """Why `reviewer` may not make this decision at all (a single one or in bulk), or None."""
    if not has_role(reviewer, Role.REVIEWER):
        return PermissionDenied(f"{actor_name(reviewer)} is not a reviewer")
    if decision not in _RESOLUTIONS:
        return ApplicationError("decision must be dismiss or confirm", code="invalid_decision")
    if not reason.strip():
        return ApplicationError("a resolution needs a reason", code="reason_required")
    return None


@transaction.atomic
def finding_resolve(*, finding_id: str, reviewer: Actor, decision: str, reason: str) -> Finding:
    """Dismiss a finding (the asset clears once none is open) or confirm it (the asset is rejected)."""
    if (refusal := decision_refusal(reviewer=reviewer, decision=decision, reason=reason)) is not None:
        raise refusal
    finding = Finding.objects.select_for_update().filter(pk=finding_id).first()
    if finding is None:
        raise ApplicationError(f"no finding {finding_id}", code="unknown_finding", status=404)
    if finding.status != FindingStatus.OPEN:
        raise ApplicationError(f"finding {finding.pk} is already {finding.status}", code="already_resolved", status=409)
    refuse_if_claimed_by_another(asset_id=finding.asset_id, reviewer=reviewer)
    findings_decide_locked(findings=[finding], reviewer=reviewer, decision=decision, reason=reason)
    return finding


def findings_decide_locked(*, findings: list[Finding], reviewer: Actor, decision: str, reason: str) -> None:
    """The one rule of a decision, single or in bulk, for open findings the caller has locked
    and checked (`decision_refusal`, claims): each takes the decision with one audit event, then
    each asset follows: rejected when one of its findings is confirmed, cleared once a flagged
    asset has none open. Must run inside the caller's transaction."""
    if not findings:
        return
    now, user = timezone.now(), actor_user(reviewer)
    for finding in findings:
        finding.status, finding.resolved_by, finding.resolution_reason = _RESOLUTIONS[decision], user, reason
        finding.resolved_at = finding.updated_at = now
    Finding.objects.filter(pk__in=[finding.pk for finding in findings]).update(
        status=_RESOLUTIONS[decision], resolved_by=user, resolution_reason=reason, resolved_at=now, updated_at=now
    )
    audit_append_many(
        [
            AuditEntry(
                actor=reviewer,
                event_type=EventType.FINDING_RESOLVED,
                subject=finding,
                details={
                    "asset_id": str(finding.asset_id),
                    "code": finding.code,
                    "decision": decision,
                    "reason": reason,
                    "evidence_sha256": finding.evidence_sha256,
                },
            )
            for finding in findings
        ]
    )
    first_code: dict[Any, str] = {}
    for finding in findings:
        first_code.setdefault(finding.asset_id, finding.code)
    if decision == "confirm":
        by_code: dict[str, list] = {}
        for asset_id, code in first_code.items():
            by_code.setdefault(code, []).append(asset_id)
        for code, asset_ids in by_code.items():
            # An asset already rejected, or gone (withdrawn, erased), stays as it is; the finding is confirmed all the same.
            assets_review(asset_ids=asset_ids, reviewer=reviewer, decision="reject", reason=f"finding {code} confirmed: {reason}")
        return
    still_open = Finding.objects.filter(asset_id__in=first_code, status=FindingStatus.OPEN).values_list("asset_id", flat=True)
    cleared = Asset.objects.filter(pk__in=first_code, status=AssetStatus.FLAGGED).exclude(pk__in=still_open)
    assets_transition(
        asset_ids=list(cleared.values_list("pk", flat=True)),
        to=AssetStatus.CLEAR,
        actor=reviewer,
        reason="every finding dismissed",
    )
