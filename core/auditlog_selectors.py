"""Reading the audit log for people: filtered pages, newest first, and the decisions in it.

The log is append-only and keyed by `seq`, so a page is "the events before seq N" (keyset on
the unique index), never an offset: the thousandth page costs what the first does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from core.models import AuditEvent, EventType

AUDITLOG_PAGE_MAX = 200
# Counting every match of a broad filter over millions of events would cost more than the page;
# past this many the page says "more than".
AUDITLOG_COUNT_CAP = 10_000

# The events that record a person's (or a rule's) decision about data or a model, with the
# reason given: what the decisions CSV holds. Ingest, logins, tokens and bookkeeping are not.
DECISION_TYPES: tuple[EventType, ...] = (
    EventType.FINDING_RESOLVED,
    EventType.ASSET_REVIEWED,
    EventType.SNAPSHOT_REVIEWED,
    EventType.SNAPSHOT_STATUS_CHANGED,
    EventType.BASE_MODEL_REVIEWED,
    EventType.BASE_MODEL_STATUS_CHANGED,
    EventType.CONSENT_REVOKED,
)

# Where an event's details name the SHA-256 of the evidence it rests on, in order of preference.
_EVIDENCE_KEYS = ("evidence_sha256", "evidence_digest", "sha256", "digest")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class AuditFilters:
    """What a reader narrows the log to; every field is optional (empty: no restriction)."""

    event_type: str = ""
    actor: str = ""
    subject_type: str = ""
    subject_id: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    count: int  # matches over every page, at most AUDITLOG_COUNT_CAP
    count_capped: bool  # True: there are more than `count`
    next_before: int | None  # the `before` of the next (older) page; None on the last


def auditlog_matching(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The events matching `filters`, in no particular order."""
    events = AuditEvent.objects.all()
    if filters.event_type:
        events = events.filter(event_type=filters.event_type)
    if filters.actor:
        events = events.filter(actor=filters.actor)
    if filters.subject_type:
        events = events.filter(subject_type=filters.subject_type)
    if filters.subject_id:
        events = events.filter(subject_id=filters.subject_id)
    if filters.since is not None:
        events = events.filter(created_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(created_at__lt=filters.until)
    return events


def auditlog_page(*, filters: AuditFilters, before: int | None = None, limit: int = 50) -> AuditPage:
    """One page of matching events, newest first, older than seq `before` when given."""
    limit = max(1, min(limit, AUDITLOG_PAGE_MAX))
    matching = auditlog_matching(filters)
    count = matching.order_by()[: AUDITLOG_COUNT_CAP + 1].count()
    page = matching.order_by("-seq")
    if before is not None:
        page = page.filter(seq__lt=before)
    events = list(page[: limit + 1])
    more, events = len(events) > limit, events[:limit]
    return AuditPage(
        events=events,
        count=min(count, AUDITLOG_COUNT_CAP),
        count_capped=count > AUDITLOG_COUNT_CAP,
        next_before=events[-1].seq if more else None,
    )


# -- the decisions CSV ---------------------------------------------------------------------------
DECISION_COLUMNS = (
    "seq",
    "when",
    "who",
    "what",
    "subject type",
    "subject id",
    "decision",
    "reason",
    "evidence digest",
    "event hash",
)


def decision_rows(filters: AuditFilters, *, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """The decisions matching `filters`, oldest first, one row per event in DECISION_COLUMNS'
    order. A generator over a server-side cursor: the whole log never sits in memory."""
    fields = ("seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "hash")
    rows = auditlog_matching(filters).filter(event_type__in=DECISION_TYPES).order_by("seq").values_list(*fields)
    for seq, created_at, actor, event_type, subject_type, subject_id, details, event_hash in rows.iterator(chunk_size=chunk_size):
        details = details if isinstance(details, dict) else {}
        yield (
            seq,
            created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            actor,
            event_type,
            subject_type,
            subject_id,
            decision_outcome(event_type, details),
            _text(details.get("reason")),
            evidence_digest(details),
            event_hash,
        )


def decision_outcome(event_type: str, details: dict[str, Any]) -> str:
    """What was decided, in one word or two: the decision given, else the status moved to."""
    if details.get("decision"):
        return _text(details["decision"])
    if details.get("to"):
        return _text(details["to"])
    if event_type == EventType.CONSENT_REVOKED:
        return "revoked"
    return ""


def evidence_digest(details: dict[str, Any]) -> str:
    """The SHA-256 the event's details name for its evidence, or empty when they name none."""
    for key in _EVIDENCE_KEYS:
        value = details.get(key)
        if isinstance(value, str) and len(value) == 64 and set(value) <= _HEX:
            return value
    return ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)
