"""The hash-chained audit log: every governance write appends one event in its transaction.

Each event's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
`{seq, created_at, actor, event_type, subject_type, subject_id, details, prev_hash}`, with
`created_at` in UTC ISO 8601 with microseconds. The first event's `prev_hash` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core.models import AuditChainHead, AuditEvent, EventType
from core.roles import Actor

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"


def actor_name(actor: Actor | str) -> str:
    """A user, a username or None (the platform itself) as the name recorded in the log."""
    if actor is None:
        return SYSTEM_ACTOR
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def _json_safe(value: Any) -> Any:
    """Details as they will read back from the database: JSON types only, no NUL characters
    (PostgreSQL's jsonb refuses them), so the hash computed now equals the one recomputed later."""
    normalised = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return _strip_nul(normalised)


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    return value


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    seq: int,
    created_at: datetime | str,
    actor: str,
    event_type: str,
    subject_type: str,
    subject_id: str,
    details: Any,
    prev_hash: str,
) -> str:
    """The event's hash; `created_at` is a datetime or already its UTC ISO 8601 text (the
    verifier has PostgreSQL format it: parsing a million datetimes was a third of its time)."""
    payload = {
        "seq": seq,
        "created_at": created_at if isinstance(created_at, str) else _timestamp(created_at),
        "actor": actor,
        "event_type": event_type,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    actor: Actor | str
    event_type: EventType
    subject: models.Model | tuple[str, str]
    details: dict | None = None


def audit_append(
    *,
    actor: Actor | str,
    event_type: EventType,
    subject: models.Model | tuple[str, str],
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run inside the governance write's transaction."""
    return audit_append_many([AuditEntry(actor, event_type, subject, details)])[0]


def audit_append_many(entries: list[AuditEntry]) -> list[AuditEvent]:
    """Append events in order under one lock of the chain's head (bulk ingest uses this)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside the transaction of the write it records")
    # The head row is the chain's lock: a second appender waits here until the first commits,
    # then reads the hash the first one wrote.
    head = _locked_head()
    seq, prev_hash, events = head.seq, head.hash, []
    for entry in entries:
        subject_type, subject_id = (
            entry.subject if isinstance(entry.subject, tuple) else (model_name(entry.subject), str(entry.subject.pk))
        )
        seq += 1
        event = AuditEvent(
            seq=seq,
            created_at=timezone.now(),
            actor=actor_name(entry.actor),
            event_type=str(entry.event_type),
            subject_type=subject_type,
            subject_id=str(subject_id),
            details=_json_safe(entry.details or {}),
            prev_hash=prev_hash,
        )
        event.hash = event_hash(
            seq=event.seq,
            created_at=event.created_at,
            actor=event.actor,
            event_type=event.event_type,
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        prev_hash = event.hash
        events.append(event)
    if not events:
        return []
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)
    return events


def model_name(subject: models.Model | type[models.Model]) -> str:
    """The subject type of a row (or a model's rows): its model's lower-case name. The stubs
    allow None for an abstract model's options; a row's model is never abstract."""
    return str(subject._meta.model_name)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    # The head is missing only on a fresh or flushed database. Creating it races with other
    # appenders: whoever loses the insert waits on the winner's row and then locks it.
    try:
        with transaction.atomic():
            AuditChainHead.objects.create(pk=1, seq=0, hash=GENESIS_HASH)
    except IntegrityError:
        return AuditChainHead.objects.select_for_update().get(pk=1)
    if AuditEvent.objects.exists():
        # Never restart a chain over existing events: that would hide whatever removed the head.
        raise RuntimeError("the audit chain's head row is missing; run `auditlog verify`")
    return AuditChainHead.objects.select_for_update().get(pk=1)


def audit_events(*, subject_type: str = "", subject_id: str = "", event_type: str = "") -> models.QuerySet[AuditEvent]:
    """The log in chain order, optionally narrowed to one subject or one kind of event."""
    events = AuditEvent.objects.order_by("seq")
    filters = {"subject_type": subject_type, "subject_id": subject_id, "event_type": event_type}
    return events.filter(**{field: value for field, value in filters.items() if value})


# PostgreSQL formats created_at exactly as _timestamp does (UTC, microseconds, +00:00), and
# hands details over as text for one json.loads, skipping the ORM's per-row converters.
_CHAIN_SQL = """
SELECT seq, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       actor, event_type, subject_type, subject_id, details::text, prev_hash, hash
FROM core_auditevent ORDER BY seq
"""


def _chain_rows(fields: tuple[str, ...]) -> Iterator[tuple]:
    """The log's rows in chain order, `fields` each, read in chunks (never all at once)."""
    if connection.vendor != "postgresql":
        yield from AuditEvent.objects.order_by("seq").values_list(*fields).iterator(chunk_size=5000)
        return
    connection.ensure_connection()
    # A named (server-side) cursor of the transaction the caller opened.
    with connection.connection.cursor(name="auditlog_verify") as cursor:
        cursor.itersize = 5000
        cursor.execute(_CHAIN_SQL)
        for seq, created_at, actor, event_type, subject_type, subject_id, details, prev_hash, stored in cursor:
            yield seq, created_at, actor, event_type, subject_type, subject_id, json.loads(details), prev_hash, stored


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    events: int
    first_bad_event: int | None
    problem: str | None


def auditlog_verify() -> ChainReport:
    """Recompute the whole chain; report the first event that was altered, removed or inserted."""
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    fields = ("seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "prev_hash", "hash")
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One snapshot for the rows and the chain's head: the log keeps growing while it is
            # checked, and under READ COMMITTED the head, read last, would be ahead of the rows
            # read first, which the check would report as events removed.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for seq, created_at, actor, event_type, subject_type, subject_id, details, prev_hash, stored in _chain_rows(fields):
            count += 1
            if seq != expected_seq:
                return ChainReport(False, count, min(seq, expected_seq), f"event {expected_seq} is missing")
            if prev_hash != expected_prev:
                return ChainReport(False, count, seq, f"event {seq} does not follow event {seq - 1}")
            recomputed = event_hash(
                seq=seq,
                created_at=created_at,
                actor=actor,
                event_type=event_type,
                subject_type=subject_type,
                subject_id=subject_id,
                details=details,
                prev_hash=prev_hash,
            )
            if recomputed != stored:
                return ChainReport(False, count, seq, f"event {seq} was altered after it was written")
            expected_seq, expected_prev = seq + 1, stored
        head = AuditChainHead.objects.filter(pk=1).first()
    last_seq = expected_seq - 1
    if head is None:
        if count == 0:
            return ChainReport(True, 0, None, None)
        return ChainReport(False, count, last_seq + 1, "the chain's head row is missing")
    if head.seq > last_seq:
        return ChainReport(False, count, last_seq + 1, f"events after {last_seq} were removed")
    if head.seq < last_seq:
        return ChainReport(False, count, head.seq + 1, f"events after {head.seq} were added behind the log's back")
    if head.hash != expected_prev:
        return ChainReport(False, count, last_seq, f"event {last_seq} does not match the chain's head")
    return ChainReport(True, count, None, None)
