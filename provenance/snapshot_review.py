"""What a reviewer reads about a snapshot before deciding on it (reads only): its members a
page at a time, the consents it rests on, and what changed since the last approved snapshot of
the same dataset. The web page shows these; each one answers only what `user` may see, by the
same `visible_to` rules as the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from core.audit import audit_events
from core.exceptions import ApplicationError
from core.models import AuditEvent, EventType
from core.roles import Actor
from provenance.models import Asset, ConsentEvent, ConsentRecord, Snapshot, SnapshotMember, SnapshotStatus
from provenance.selectors import ConsentState, consent_states, consents_visible_to

# Leaf indexes are PostgreSQL integers: a larger "after" is an edited link, never a real page.
_LEAF_INDEX_MAX = 2**31 - 1


# -- members -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MembersPage:
    rows: list[SnapshotMember]
    # The members of `rows` whose image `user` may see (the others show no thumbnail).
    visible_assets: set[uuid.UUID]
    next_after: int | None


def snapshot_members_page(*, snapshot: Snapshot, user: Actor, after: str | None = None, limit: int = 48) -> MembersPage:
    """Members in leaf order, `limit` at a time from the leaf after `after` (the previous page's
    `next_after`): keyed on the leaf index, never an offset."""
    members = SnapshotMember.objects.filter(snapshot=snapshot).select_related("asset")
    if after:
        if not after.isdigit() or int(after) > _LEAF_INDEX_MAX:
            raise ApplicationError(
                "this page link is not valid any more; start again from the first image", code="invalid_cursor"
            )
        members = members.filter(index__gt=int(after))
    rows = list(members.order_by("index")[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    return MembersPage(
        rows=rows,
        visible_assets=_visible_assets(user, [row.asset_id for row in rows]),
        next_after=rows[-1].index if more and rows else None,
    )


def _visible_assets(user: Actor, asset_ids: list[Any]) -> set[uuid.UUID]:
    return set(Asset.objects.visible_to(user).filter(pk__in=asset_ids).values_list("pk", flat=True))


# -- consents ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsentRow:
    consent: ConsentRecord
    state: ConsentState


@dataclass(frozen=True)
class SnapshotConsents:
    rows: list[ConsentRow]
    total: int  # consents the snapshot rests on, all of them
    withheld: int  # of those, how many `user` may not see the details of


def snapshot_consents(*, snapshot: Snapshot, user: Actor, limit: int = 100) -> SnapshotConsents:
    """The consents the snapshot's members were frozen under, with their state now (a consent
    revoked since shows `revoked`)."""
    relied_on = SnapshotMember.objects.filter(snapshot=snapshot).values("consent_id")
    total = ConsentRecord.objects.filter(pk__in=relied_on).count()
    visible = consents_visible_to(user).filter(pk__in=relied_on)
    shown = list(visible.order_by("granted_at", "pk")[:limit])
    states = consent_states([consent.pk for consent in shown])
    return SnapshotConsents(
        rows=[ConsentRow(consent, states[consent.pk]) for consent in shown], total=total, withheld=total - visible.count()
    )


# -- the diff ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    """Some rows of a longer list: the first `shown`, and how many there are in all."""

    rows: list[Any] = field(default_factory=list)
    count: int = 0
    withheld: int = 0  # rows that exist but that `user` may not see

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


@dataclass(frozen=True)
class DismissedFinding:
    asset_id: str
    code: str
    reviewer: str
    reason: str
    at: datetime
    seq: int


@dataclass(frozen=True)
class SnapshotDiff:
    """`snapshot` against `base`, the last snapshot of the same dataset approved before it was
    built (None: there is none, and every other field is empty)."""

    base: Snapshot | None
    approved_at: datetime | None = None
    added: Listed = field(default_factory=Listed)  # SnapshotMember rows of `snapshot`
    removed: Listed = field(default_factory=Listed)  # SnapshotMember rows of `base`
    consents_added: Listed = field(default_factory=Listed)  # ConsentRecord rows
    consents_dropped: Listed = field(default_factory=Listed)  # ConsentRecord rows
    consent_events: Listed = field(default_factory=Listed)  # ConsentEvent rows since the approval
    dismissed: Listed = field(default_factory=Listed)  # DismissedFinding rows since the approval
    # The images among `added` and `removed` that `user` may see (the others show no thumbnail).
    visible_assets: set[uuid.UUID] = field(default_factory=set)

    @property
    def unchanged(self) -> bool:
        parts = (self.added, self.removed, self.consents_added, self.consents_dropped, self.consent_events, self.dismissed)
        return self.base is not None and not any(part.count for part in parts)


def snapshot_diff_base(snapshot: Snapshot) -> Snapshot | None:
    """The snapshot of the same dataset, built before this one, that is approved now (the last
    of them): what this one would replace."""
    earlier = Snapshot.objects.filter(
        dataset_id=snapshot.dataset_id, status=SnapshotStatus.APPROVED, created_at__lt=snapshot.created_at
    ).exclude(pk=snapshot.pk)
    return earlier.select_related("created_by").order_by("-created_at", "-pk").first()


def snapshot_diff(*, snapshot: Snapshot, user: Actor, shown: int = 50) -> SnapshotDiff:
    """What changed between the last approved snapshot of the dataset and this one: images added
    and removed, consents newly relied on or no longer relied on, consents renewed, expired or
    revoked since that approval, and findings on this snapshot's images dismissed since then
    (from the audit log). Each list holds its first `shown` rows and its full count."""
    base = snapshot_diff_base(snapshot)
    if base is None:
        return SnapshotDiff(base=None)
    since = base.status_changed_at  # an approved snapshot's last move was its approval
    new_members = SnapshotMember.objects.filter(snapshot=snapshot)
    old_members = SnapshotMember.objects.filter(snapshot=base)
    consents = consents_visible_to(user)
    events = ConsentEvent.objects.filter(at__gt=since).filter(
        Q(consent_id__in=new_members.values("consent_id")) | Q(consent_id__in=old_members.values("consent_id"))
    )
    added = _listed(new_members.exclude(asset_id__in=old_members.values("asset_id")).order_by("index"), shown)
    removed = _listed(old_members.exclude(asset_id__in=new_members.values("asset_id")).order_by("index"), shown)
    relied_on_now = ConsentRecord.objects.filter(pk__in=new_members.values("consent_id"))
    relied_on_before = ConsentRecord.objects.filter(pk__in=old_members.values("consent_id"))
    return SnapshotDiff(
        base=base,
        approved_at=since,
        added=added,
        removed=removed,
        consents_added=_listed_visible(relied_on_now.exclude(pk__in=old_members.values("consent_id")), consents, shown),
        consents_dropped=_listed_visible(relied_on_before.exclude(pk__in=new_members.values("consent_id")), consents, shown),
        consent_events=_listed_visible(
            events.select_related("consent__contributor"),
            ConsentEvent.objects.filter(consent_id__in=consents.values("pk")),
            shown,
            order=("at", "pk"),
        ),
        dismissed=_dismissed_since(snapshot, base, user, shown),
        visible_assets=_visible_assets(user, [member.asset_id for member in [*added.rows, *removed.rows]]),
    )


def _listed(rows: QuerySet, shown: int) -> Listed:
    return Listed(rows=list(rows.select_related("asset")[:shown]), count=rows.count())


def _listed_visible(rows: QuerySet, visible: QuerySet, shown: int, *, order: tuple[str, ...] = ("granted_at", "pk")) -> Listed:
    if rows.model is ConsentRecord:
        rows = rows.select_related("contributor")
    seen = rows.filter(pk__in=visible.values("pk"))
    count = seen.count()
    return Listed(rows=list(seen.order_by(*order)[:shown]), count=count, withheld=rows.count() - count)


def _dismissed_since(snapshot: Snapshot, base: Snapshot, user: Actor, shown: int) -> Listed:
    """Dismissals are read from the hash-chained log (provenance does not import the auditors'
    app): each `finding.resolved` event names its asset, its code, the decision and the reason.
    The log is read from the base's approval on, by sequence number (its unique index), so a
    long log is not scanned from the start."""
    member_ids = SnapshotMember.objects.filter(snapshot=snapshot).annotate(text=Cast("asset_id", CharField())).values("text")
    approval = (
        audit_events(subject_type="snapshot", subject_id=str(base.pk), event_type=EventType.SNAPSHOT_STATUS_CHANGED)
        .filter(details__to=SnapshotStatus.APPROVED)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    since = Q(seq__gt=approval) if approval is not None else Q(created_at__gt=base.status_changed_at)
    events = (
        audit_events(event_type=EventType.FINDING_RESOLVED)
        .filter(since, details__decision="dismiss")
        .annotate(asset_text=KeyTextTransform("asset_id", "details"))
        .filter(asset_text__in=member_ids)
    )
    visible = Asset.objects.visible_to(user)
    # A role that sees every image needs no restriction (and the whole table is not read for it).
    seen = (
        events.filter(asset_text__in=visible.annotate(text=Cast("pk", CharField())).values("text"))
        if visible.query.has_filters()
        else events
    )
    count = seen.count()
    rows = [_dismissal(event) for event in seen.order_by("-seq")[:shown]]
    return Listed(rows=rows, count=count, withheld=events.count() - count)


def _dismissal(event: AuditEvent) -> DismissedFinding:
    details = event.details or {}
    return DismissedFinding(
        asset_id=str(details.get("asset_id", "")),
        code=str(details.get("code", "")),
        reviewer=event.actor,
        reason=str(details.get("reason", "")),
        at=event.created_at,
        seq=event.seq,
    )
