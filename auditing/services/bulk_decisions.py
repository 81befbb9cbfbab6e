"""Bulk decisions: one decision (dismiss or confirm) with one reason on every open finding that
matches the review queue's filters: all the pages of them, not only the one on screen.

The set is fixed when the reviewer confirms (`bulk_decision_plan`): they confirm the count they
were shown, and are refused if the matches changed since, so nobody decides more than they saw.
The findings that matched then are decided in batches of BATCH_SIZE, one transaction each, so a
hundred thousand findings never hold one giant transaction (`bulk_decision_run`). Each finding
goes through the rule of a single decision (audits.findings_decide_locked): one audit event
each; the asset's status follows. Findings on images another reviewer holds are skipped and
counted by holder; findings someone decided meanwhile are skipped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from auditing.models import Finding, FindingStatus
from auditing.selectors import ReviewFilters, open_findings_matching
from auditing.services.audits import decision_refusal, findings_decide_locked
from auditing.services.claims import holders_other_than
from core.exceptions import ApplicationError
from core.models import BackgroundJob
from core.roles import Actor

BATCH_SIZE = 500
# The background job kind a large bulk decision runs as (registered in auditing/apps.py).
BULK_DECISION_KIND = "bulk_decision"
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class BulkScope:
    """What a bulk decision over these filters would change, as of now."""

    findings: int
    images: int
    # Findings on images another reviewer holds now, by their username: skipped unless released.
    held: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkDecisionPlan:
    """A bulk decision as the reviewer confirmed it: the findings matching `filters` that were
    open at `fixed_at`, `count` of them."""

    filters: ReviewFilters
    decision: str
    reason: str
    count: int
    fixed_at: datetime

    def to_params(self) -> dict[str, Any]:
        """JSON-able, for a background job's params."""
        filters = {
            name: value.isoformat() if isinstance(value, datetime) else value for name, value in asdict(self.filters).items()
        }
        return {
            "filters": filters,
            "decision": self.decision,
            "reason": self.reason,
            "count": self.count,
            "fixed_at": self.fixed_at.isoformat(),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> BulkDecisionPlan:
        raw = params.get("filters") or {}

        def when(name: str) -> datetime | None:
            return datetime.fromisoformat(raw[name]) if raw.get(name) else None

        def number(name: str) -> float | None:
            return float(raw[name]) if raw.get(name) is not None else None

        filters = ReviewFilters(
            auditor=str(raw.get("auditor") or ""),
            code=str(raw.get("code") or ""),
            dataset=str(raw.get("dataset") or ""),
            contributor=str(raw.get("contributor") or ""),
            since=when("since"),
            until=when("until"),
            min_score=number("min_score"),
            max_score=number("max_score"),
        )
        return cls(
            filters=filters,
            decision=str(params["decision"]),
            reason=str(params["reason"]),
            count=int(params["count"]),
            fixed_at=datetime.fromisoformat(params["fixed_at"]),
        )


@dataclass(frozen=True)
class BulkOutcome:
    decision: str
    decided: int
    # Skipped: on images another reviewer held, by username.
    held: dict[str, int]
    # Skipped: decided by someone else meanwhile (or no longer matching the filters).
    gone: int

    def to_result(self) -> dict[str, Any]:
        """JSON-able, for a background job's result (the held as [username, count] pairs, in order)."""
        return {
            "decision": self.decision,
            "decided": self.decided,
            "held": sorted(self.held.items()),
            "held_total": sum(self.held.values()),
            "gone": self.gone,
        }


def _findings_in_scope(reviewer: Actor, filters: ReviewFilters, fixed_at: datetime | None) -> QuerySet[Finding]:
    findings = open_findings_matching(reviewer, filters)
    return findings if fixed_at is None else findings.filter(created_at__lte=fixed_at)


def bulk_decision_scope(*, reviewer: Actor, filters: ReviewFilters) -> BulkScope:
    """How many open findings, on how many images, match `filters` now; and how many of them
    are on images other reviewers hold."""
    findings = open_findings_matching(reviewer, filters)
    counts = findings.aggregate(findings=Count("id"), images=Count("asset_id", distinct=True))
    held: Counter[str] = Counter()
    if counts["findings"]:
        on_claimed = findings.filter(asset__review_claim__expires_at__gt=timezone.now())
        by_asset = dict(on_claimed.values("asset_id").annotate(n=Count("id")).values_list("asset_id", "n"))
        for asset_id, holder in holders_other_than(asset_ids=list(by_asset), reviewer=reviewer).items():
            held[holder] += by_asset[asset_id]
    return BulkScope(findings=counts["findings"], images=counts["images"], held=dict(sorted(held.items())))


def bulk_decision_plan(
    *, reviewer: Actor, filters: ReviewFilters, decision: str, reason: str, seen_count: int
) -> BulkDecisionPlan:
    """Fix the set the reviewer confirmed: refused (`matches_changed`, 409, with the new counts)
    when the findings matching `filters` are no longer the `seen_count` they were shown, and
    (`nothing_to_decide`) when none match. Decides nothing."""
    if (refusal := decision_refusal(reviewer=reviewer, decision=decision, reason=reason)) is not None:
        raise refusal
    fixed_at = timezone.now()
    scope = bulk_decision_scope(reviewer=reviewer, filters=filters)
    if scope.findings != seen_count:
        plural = "" if scope.findings == 1 else "s"
        raise ApplicationError(
            f"The matches changed since you looked: {scope.findings} finding{plural} on {scope.images} "
            f"image{'' if scope.images == 1 else 's'} match now, not the {seen_count} you were shown. "
            "Nothing was decided; check the new count and confirm again.",
            code="matches_changed",
            status=409,
            extra={"findings": scope.findings, "images": scope.images},
        )
    if scope.findings == 0:
        raise ApplicationError("Nothing matches these filters: there is nothing to decide.", code="nothing_to_decide")
    return BulkDecisionPlan(filters=filters, decision=decision, reason=reason, count=scope.findings, fixed_at=fixed_at)


def bulk_decision_run(
    *, reviewer: Actor, plan: BulkDecisionPlan, progress: Progress | None = None, batch_size: int = BATCH_SIZE
) -> BulkOutcome:
    """Decide the plan's findings, `batch_size` per transaction, calling `progress(done, total)`
    after each batch. Never decides more than the plan's count: refused (`matches_changed`)
    before deciding anything if more match now than were confirmed."""
    if (refusal := decision_refusal(reviewer=reviewer, decision=plan.decision, reason=plan.reason)) is not None:
        raise refusal
    in_scope = _findings_in_scope(reviewer, plan.filters, plan.fixed_at)
    now_matching = in_scope.count()
    if now_matching > plan.count:
        raise ApplicationError(
            f"More findings match now ({now_matching}) than the {plan.count} you confirmed; nothing was decided. "
            "Open the queue again and confirm the new count.",
            code="matches_changed",
            status=409,
            extra={"findings": now_matching},
        )
    decided, held, last_pk = 0, Counter[str](), None
    while decided + held.total() < plan.count:
        batch = in_scope.order_by("pk") if last_pk is None else in_scope.filter(pk__gt=last_pk).order_by("pk")
        ids = list(batch.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last_pk = ids[-1]
        with transaction.atomic():
            decided_now, held_now = _decide_batch(ids, reviewer, plan, room=plan.count - decided - held.total())
        decided += decided_now
        held.update(held_now)
        if progress is not None:
            progress(decided + held.total(), plan.count)
    return BulkOutcome(decision=plan.decision, decided=decided, held=dict(held), gone=max(plan.count - decided - held.total(), 0))


def _decide_batch(ids: list, reviewer: Actor, plan: BulkDecisionPlan, *, room: int) -> tuple[int, Counter[str]]:
    # Locked, then read again: a finding decided since the ids were read is left out.
    findings = list(Finding.objects.select_for_update().filter(pk__in=ids, status=FindingStatus.OPEN).order_by("pk"))
    holders = holders_other_than(asset_ids={finding.asset_id for finding in findings}, reviewer=reviewer)
    held: Counter[str] = Counter(holders[finding.asset_id] for finding in findings if finding.asset_id in holders)
    free = [finding for finding in findings if finding.asset_id not in holders][: max(room - held.total(), 0)]
    findings_decide_locked(findings=free, reviewer=reviewer, decision=plan.decision, reason=plan.reason)
    return len(free), held


def bulk_decision_job(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """The background job's runner (kind `bulk_decision`): the plan is in the job's params."""
    plan = BulkDecisionPlan.from_params(job.params)
    return bulk_decision_run(reviewer=job.requested_by, plan=plan, progress=progress).to_result()
