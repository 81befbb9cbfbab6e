"""Reads: consent state, lookups by public id, and what each user may see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from core.exceptions import ApplicationError, NotFound
from core.roles import Actor, Role, has_role, user_roles
from provenance.models import (
    Asset,
    ConsentEvent,
    ConsentEventKind,
    ConsentRecord,
    Dataset,
    ReviewDecision,
    Snapshot,
    SnapshotMember,
    SnapshotStatus,
)


@dataclass(frozen=True)
class ConsentState:
    status: str  # active | expired | revoked | not_yet_valid
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"


def consent_state(
    consent: ConsentRecord, *, at: datetime | None = None, events: list[ConsentEvent] | None = None
) -> ConsentState:
    """Fold a grant and its events into the state at `at` (now by default)."""
    at = at or timezone.now()
    if events is None:
        events = list(consent.events.all())
    expires_at, revoked_at = consent.expires_at, None
    for event in sorted(events, key=lambda e: (e.at, e.pk or 0)):
        if event.at > at:
            continue
        if event.kind == ConsentEventKind.RENEWED:
            expires_at = event.expires_at
        elif event.kind == ConsentEventKind.REVOKED:
            revoked_at = event.at
    if revoked_at is not None:
        status = "revoked"
    elif consent.granted_at > at:
        status = "not_yet_valid"
    elif expires_at is not None and expires_at <= at:
        status = "expired"
    else:
        status = "active"
    return ConsentState(status, frozenset(consent.scopes), expires_at, revoked_at)


def consent_states(consent_ids: list, *, at: datetime | None = None) -> dict:
    """States of many consents in two queries (snapshot creation over 100,000 assets)."""
    consents = {c.pk: c for c in ConsentRecord.objects.filter(pk__in=set(consent_ids))}
    events: dict = {pk: [] for pk in consents}
    for event in ConsentEvent.objects.filter(consent_id__in=consents.keys()):
        events[event.consent_id].append(event)
    return {pk: consent_state(consent, at=at, events=events[pk]) for pk, consent in consents.items()}


def consent_gap(state: ConsentState, required: list[str] | set[str]) -> str | None:
    """Why this consent does not cover `required`, or None when it does."""
    if not state.active:
        when = state.expires_at or state.revoked_at
        return f"consent is {state.status.replace('_', ' ')}" + (
            f" (since {when.isoformat()})" if when and state.status != "not_yet_valid" else ""
        )
    missing = set(required) - state.scopes
    if missing:
        return f"consent does not cover scope(s) {', '.join(sorted(missing))}"
    return None


def _parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no {what} with id {value!r}", code=f"unknown_{what}") from None


def consent_get(*, consent_id: str) -> ConsentRecord:
    try:
        return ConsentRecord.objects.select_related("contributor").get(pk=_parse_uuid(consent_id, "consent"))
    except ConsentRecord.DoesNotExist:
        raise NotFound(f"no consent with id {consent_id!r}", code="unknown_consent") from None


def consents_visible_to(user: Actor) -> QuerySet[ConsentRecord]:
    roles = user_roles(user)
    queryset = ConsentRecord.objects.select_related("contributor", "evidence")
    if roles & {Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE}:
        return queryset.all()
    if has_role(user, Role.CONTRIBUTOR):  # `roles` again (cached), and `user` is then a User
        return queryset.filter(contributor__user=user)
    return queryset.none()


def dataset_get(*, slug: str, among: QuerySet[Dataset] | None = None) -> Dataset:
    """The dataset with this slug, looked for only `among` these when given, so that one outside
    them answers exactly as one that does not exist."""
    try:
        return (Dataset.objects.all() if among is None else among).get(slug=slug)
    except Dataset.DoesNotExist:
        raise ApplicationError(f"no dataset with slug {slug!r}", code="unknown_dataset", status=404) from None


def snapshot_get(*, snapshot_id: str) -> Snapshot:
    try:
        return Snapshot.objects.select_related("dataset", "created_by").get(pk=_parse_uuid(snapshot_id, "snapshot"))
    except Snapshot.DoesNotExist:
        raise NotFound(f"no snapshot with id {snapshot_id!r}", code="unknown_snapshot") from None


def asset_get(*, asset_id: str) -> Asset:
    try:
        return Asset.objects.get(pk=_parse_uuid(asset_id, "asset"))
    except Asset.DoesNotExist:
        raise NotFound(f"no asset with id {asset_id!r}", code="unknown_asset") from None


def snapshot_approvals(snapshot: Snapshot) -> list[str]:
    """Usernames of the reviewers who approved, in the order they did."""
    names = (
        ReviewDecision.objects.filter(snapshot=snapshot, subject_type="snapshot", decision="approve")
        .order_by("created_at", "id")
        .values_list("reviewer__username", flat=True)
    )
    return list(dict.fromkeys(names))


def snapshots_approvals(snapshots: list[Snapshot]) -> dict:
    """`snapshot_approvals` for many snapshots (by pk) in one query: a list page's column."""
    approvals: dict = {snapshot.pk: [] for snapshot in snapshots}
    rows = (
        ReviewDecision.objects.filter(snapshot__in=[s.pk for s in snapshots], subject_type="snapshot", decision="approve")
        .order_by("created_at", "id")
        .values_list("snapshot_id", "reviewer__username")
    )
    for snapshot_id, username in rows:
        if username not in approvals[snapshot_id]:
            approvals[snapshot_id].append(username)
    return approvals


# -- whether a snapshot may be used: the one home of the rule ------------------------------------
def snapshots_lapsed_consents(snapshots: list[Snapshot]) -> dict:
    """For each snapshot (by pk), the consents in its frozen list that no longer cover its
    scopes (expired or revoked since it was built), sorted. Three queries for any number."""
    # `order_by()`: the members' default ordering (by index) would make every member distinct.
    members = SnapshotMember.objects.filter(snapshot__in=[s.pk for s in snapshots]).order_by()
    pairs = list(members.values_list("snapshot_id", "consent_id").distinct())
    states = consent_states([consent_id for _, consent_id in pairs])
    scopes = {s.pk: s.scopes for s in snapshots}
    lapsed: dict = {s.pk: [] for s in snapshots}
    for snapshot_id, consent_id in pairs:
        if consent_gap(states[consent_id], scopes[snapshot_id]):
            lapsed[snapshot_id].append(str(consent_id))
    return {pk: sorted(ids) for pk, ids in lapsed.items()}


def snapshot_lapsed_consents(snapshot: Snapshot) -> list[str]:
    return snapshots_lapsed_consents([snapshot])[snapshot.pk]


def snapshot_tainted_refusal(snapshot: Snapshot, *, what: str = "snapshot") -> ApplicationError | None:
    """`snapshot_tainted` when the snapshot was tainted: it can never be approved or used again."""
    if snapshot.status != SnapshotStatus.TAINTED:
        return None
    return ApplicationError(
        f"{what} {snapshot.pk} is tainted ({snapshot.status_reason or 'a consent was revoked'}) and can never be used",
        code="snapshot_tainted",
        status=409,
    )


def snapshot_lapsed_refusal(
    snapshot: Snapshot, *, what: str = "snapshot", lapsed: list[str] | None = None
) -> ApplicationError | None:
    """`consent_lapsed` when a consent in the frozen list no longer covers the snapshot
    (`lapsed`: the answer of `snapshots_lapsed_consents` when a list already asked it)."""
    lapsed = snapshot_lapsed_consents(snapshot) if lapsed is None else lapsed
    if not lapsed:
        return None
    shown = ", ".join(lapsed[:10]) + (f" and {len(lapsed) - 10} more" if len(lapsed) > 10 else "")
    return ApplicationError(
        f"{what} {snapshot.pk} holds consent(s) that no longer cover it: {shown}; build a new snapshot",
        code="consent_lapsed",
        status=409,
        extra={"lapsed_consents": lapsed},
    )


def snapshot_refusal(snapshot: Snapshot, *, what: str = "snapshot", lapsed: list[str] | None = None) -> ApplicationError | None:
    """Why this snapshot may not be used (exported, trained on, generated from, trusted by
    verify), or None when it may: `snapshot_tainted`, `snapshot_not_approved` or
    `consent_lapsed`, checked in that order. Reads the current rows, never cached ones."""
    tainted = snapshot_tainted_refusal(snapshot, what=what)
    if tainted is not None:
        return tainted
    if snapshot.status != SnapshotStatus.APPROVED:
        return ApplicationError(
            f"{what} {snapshot.pk} is {snapshot.status}, not approved", code="snapshot_not_approved", status=409
        )
    return snapshot_lapsed_refusal(snapshot, what=what, lapsed=lapsed)
