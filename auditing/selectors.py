"""Reads: findings as a user may see them, a dataset's audit report, and the review queue."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet

from auditing.models import Finding, FindingStatus
from core.exceptions import ApplicationError
from core.roles import Actor
from provenance.models import Asset


def findings_visible_to(user: Actor) -> QuerySet[Finding]:
    """Findings follow their asset's visibility (one rule: Asset.objects.visible_to)."""
    return Finding.objects.filter(asset__in=Asset.objects.visible_to(user)).select_related("asset")


def dataset_audit_report(*, dataset) -> list[Asset]:
    """Each asset of the dataset with its findings prefetched (`audit_findings`), oldest first:
    what the `audit` command reports."""
    findings = Prefetch("findings", queryset=Finding.objects.order_by("created_at", "id"), to_attr="audit_findings")
    return list(Asset.objects.filter(memberships__dataset=dataset).order_by("created_at", "sha256").prefetch_related(findings))


# -- the review queue -------------------------------------------------------------------------
REVIEW_ORDERS = ("newest", "score")
REVIEW_PAGE_MAX = 200


@dataclass(frozen=True)
class ReviewFilters:
    """What a reviewer narrows the queue to; every field is optional (empty: no restriction)."""

    auditor: str = ""
    code: str = ""
    dataset: str = ""  # slug
    contributor: str = ""  # email
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    max_score: float | None = None


@dataclass(frozen=True)
class ReviewRow:
    asset: Asset
    open_findings: int
    latest: datetime
    top_score: float
    auditors: list[str]


@dataclass(frozen=True)
class ReviewPage:
    rows: list[ReviewRow]
    total: int  # assets matching, over every page
    next_cursor: str | None


def open_findings_matching(user: Actor, filters: ReviewFilters) -> QuerySet[Finding]:
    """Open findings `user` may see that match `filters`: the queue's rows and a bulk decision's
    targets are both drawn from here, so they cannot disagree."""
    findings = Finding.objects.filter(status=FindingStatus.OPEN)
    visible = Asset.objects.visible_to(user)
    if visible.query.has_filters():
        # A role that sees every asset needs no restriction: the join would only cost the queue
        # its index (finding_open_by_asset).
        findings = findings.filter(asset__in=visible)
    if filters.auditor:
        findings = findings.filter(auditor=filters.auditor)
    if filters.code:
        findings = findings.filter(code=filters.code)
    if filters.dataset:
        findings = findings.filter(asset__memberships__dataset__slug=filters.dataset)
    if filters.contributor:
        findings = findings.filter(asset__contributor__email__iexact=filters.contributor)
    if filters.since is not None:
        findings = findings.filter(created_at__gte=filters.since)
    if filters.until is not None:
        findings = findings.filter(created_at__lt=filters.until)
    if filters.min_score is not None:
        findings = findings.filter(score__gte=filters.min_score)
    if filters.max_score is not None:
        findings = findings.filter(score__lte=filters.max_score)
    return findings


def review_queue(
    *, user: Actor, filters: ReviewFilters, order: str = "newest", after: str | None = None, limit: int = 50
) -> ReviewPage:
    """Assets with open findings matching `filters`, newest finding first or highest score
    first, a page at a time. Pages are keyed on the last row seen (`after`, the previous page's
    `next_cursor`), never on an offset, so a late page costs what the first does."""
    if order not in REVIEW_ORDERS:
        raise ApplicationError(f"order must be one of {', '.join(REVIEW_ORDERS)}", code="invalid_order")
    limit = max(1, min(limit, REVIEW_PAGE_MAX))
    key = "latest" if order == "newest" else "top_score"
    groups = (
        open_findings_matching(user, filters)
        .values("asset_id")
        .annotate(latest=Max("created_at"), top_score=Max("score"), open_findings=Count("id", distinct=True))
    )
    total = groups.count()
    if after:
        value, asset_id = _cursor_read(after, order)
        groups = groups.filter(Q(**{f"{key}__lt": value}) | Q(**{key: value, "asset_id__lt": asset_id}))
    page = list(groups.order_by(f"-{key}", "-asset_id")[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    ids = [group["asset_id"] for group in page]
    assets = Asset.objects.select_related("contributor").in_bulk(ids)
    auditors: dict[Any, set[str]] = {asset_id: set() for asset_id in ids}
    for asset_id, auditor in open_findings_matching(user, filters).filter(asset_id__in=ids).values_list("asset_id", "auditor"):
        auditors[asset_id].add(auditor)
    rows = [
        ReviewRow(
            asset=assets[group["asset_id"]],
            open_findings=group["open_findings"],
            latest=group["latest"],
            top_score=group["top_score"],
            auditors=sorted(auditors[group["asset_id"]]),
        )
        for group in page
    ]
    next_cursor = _cursor_write(page[-1][key], page[-1]["asset_id"], order) if more and page else None
    return ReviewPage(rows=rows, total=total, next_cursor=next_cursor)


def _cursor_write(value: datetime | float, asset_id: Any, order: str) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else repr(float(value))
    return base64.urlsafe_b64encode(json.dumps([order, raw, str(asset_id)]).encode()).decode().rstrip("=")


def _cursor_read(cursor: str, order: str) -> tuple[datetime | float, uuid.UUID]:
    """The last row of the previous page; anything else (edited, from another order) is refused."""
    invalid = ApplicationError("this page link is not valid any more; start again from the first page", code="invalid_cursor")
    if len(cursor) > 200:
        raise invalid
    try:
        cursor_order, raw, asset_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if cursor_order != order:
            raise invalid
        value: datetime | float = datetime.fromisoformat(raw) if order == "newest" else float(raw)
        return value, uuid.UUID(asset_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid from None


@dataclass(frozen=True)
class QueueNeighbours:
    previous: uuid.UUID | None
    next: uuid.UUID | None


def review_neighbours(*, user: Actor, asset_id: Any) -> QueueNeighbours:
    """The assets before and after `asset_id` in the unfiltered queue, newest first (the asset
    page's previous/next links). An asset with no open finding left keeps its place by its
    latest finding, so "next" still moves on after its last decision."""
    # Each other asset's place is its latest open finding: the open findings no newer open
    # finding of the same asset follows. Walking them by time from `here` is an index scan that
    # stops at the first match, where grouping every open finding by asset read them all.
    open_findings = open_findings_matching(user, ReviewFilters())
    newer_of_same_asset = open_findings.filter(asset_id=OuterRef("asset_id"), created_at__gt=OuterRef("created_at"))
    latest = open_findings.exclude(asset_id=asset_id).filter(~Exists(newer_of_same_asset)).values_list("asset_id", flat=True)
    here = Finding.objects.filter(asset_id=asset_id).aggregate(latest=Max("created_at"))["latest"]
    if here is None:
        return QueueNeighbours(previous=None, next=latest.order_by("-created_at", "-asset_id").first())
    after = latest.filter(Q(created_at__lt=here) | Q(created_at=here, asset_id__lt=asset_id)).order_by("-created_at", "-asset_id")
    before = latest.filter(Q(created_at__gt=here) | Q(created_at=here, asset_id__gt=asset_id)).order_by("created_at", "asset_id")
    return QueueNeighbours(previous=before.first(), next=after.first())
