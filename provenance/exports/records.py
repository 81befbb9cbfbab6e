"""The one home of what an export says about a snapshot: a `SnapshotReport` (the snapshot as a
whole) and a stream of `MemberRecord`s (one per leaf, in leaf order) and `ExclusionRecord`s.

Every format (CSV, JSON, PDF, Croissant, the pack) reads these and nothing else, so they all say
the same thing. Members are read in fixed ranges of leaf indexes (`CHUNK` leaves per query, plus
one query per chunk for depicted persons, revocations and each provider such as the audit
outcomes), so a 100,000-member snapshot streams in bounded memory.

Reproducible: every value comes from a record (no `now()`), in a fixed order, so two exports of
the same snapshot are the same bytes. The audit-log anchor is therefore *not* the head of the
log at export time (which grows with every unrelated event, and would make each export differ)
but the last event of the chain about this snapshot (its creation, approval, or taint): it pins
the snapshot's current state into the hash chain, anyone holding the chain can check it, and it
changes exactly when the snapshot's status does, which must change the export anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from core.audit import model_name
from core.models import AuditEvent
from core.storage import blob_exists
from provenance.merkle import leaf_hash, snapshot_leaf
from provenance.models import (
    ConsentEvent,
    ConsentEventKind,
    DepictedPerson,
    ReviewDecision,
    Snapshot,
    SnapshotExclusion,
    SnapshotMember,
    SnapshotStatus,
)
from provenance.models.snapshots import REQUIRED_APPROVALS
from provenance.services.snapshot_export import TREE

CHUNK = 2000
LEAF_DEFINITION = "ASCII '<asset sha256>:<consent record id>:<consent digest>', leaves sorted by asset sha256 (docs/merkle.md)"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


# -- audit outcomes: filled by the auditing app, which provenance may not import ----------------
@dataclass(frozen=True)
class AuditorRun:
    auditor: str
    version: str
    status: str


@dataclass(frozen=True)
class FindingOutcome:
    auditor: str
    version: str
    code: str
    score: float
    status: str  # open | dismissed | confirmed
    resolved_by: str
    resolved_at: str
    reason: str


@dataclass(frozen=True)
class AuditOutcome:
    runs: tuple[AuditorRun, ...] = ()
    findings: tuple[FindingOutcome, ...] = ()


NO_AUDIT = AuditOutcome()
AuditOutcomes = Callable[[list[str]], dict[str, AuditOutcome]]
_audit_outcomes: list[AuditOutcomes] = []


def on_audit_outcomes(provider: AuditOutcomes) -> None:
    """Register what the audits of some assets (by id) concluded (auditing does, in its ready())."""
    if provider not in _audit_outcomes:
        _audit_outcomes.append(provider)


def _outcomes(asset_ids: list[str]) -> dict[str, AuditOutcome]:
    found: dict[str, AuditOutcome] = {}
    for provider in _audit_outcomes:
        for asset_id, outcome in provider(asset_ids).items():
            have = found.get(asset_id, NO_AUDIT)
            found[asset_id] = AuditOutcome(runs=have.runs + outcome.runs, findings=have.findings + outcome.findings)
    return found


# -- the snapshot as a whole --------------------------------------------------------------------
@dataclass(frozen=True)
class Approval:
    reviewer: str
    at: str
    reason: str


@dataclass(frozen=True)
class ConsentLapse:
    """A revocation or expiry of a consent in the frozen list: why a snapshot is tainted."""

    consent_id: str
    kind: str  # revoked | expired
    at: str
    actor: str
    reason: str


@dataclass(frozen=True)
class AuditAnchor:
    seq: int
    hash: str
    event_type: str
    at: str


@dataclass(frozen=True)
class SnapshotReport:
    snapshot_id: str
    dataset: str
    dataset_name: str
    status: str
    status_reason: str
    status_changed_at: str
    tainted: bool
    lapses: tuple[ConsentLapse, ...]
    scopes: tuple[str, ...]
    merkle_root: str
    tree: str
    leaf_format: str
    leaf_definition: str
    member_count: int
    exclusion_count: int
    created_by: str
    created_at: str
    approvals: tuple[Approval, ...]
    approved_at: str  # when the last required approval came; "" when never approved
    container_sha256: str
    audit_anchor: AuditAnchor | None

    @property
    def status_label(self) -> str:
        """The status as every format shows it: TAINTED in capitals, so it cannot be missed."""
        return "TAINTED" if self.tainted else self.status


def snapshot_report(snapshot: Snapshot) -> SnapshotReport:
    approvals = tuple(
        Approval(reviewer=name, at=_iso(at), reason=reason)
        for name, at, reason in ReviewDecision.objects.filter(snapshot=snapshot, subject_type="snapshot", decision="approve")
        .order_by("created_at", "id")
        .values_list("reviewer__username", "created_at", "reason")
    )
    approvers: list[str] = []
    approved_at = ""
    for approval in approvals:
        if approval.reviewer not in approvers:
            approvers.append(approval.reviewer)
            if len(approvers) == REQUIRED_APPROVALS:
                approved_at = approval.at
    lapses = tuple(
        ConsentLapse(consent_id=str(consent_id), kind=kind, at=_iso(at), actor=actor, reason=reason)
        for consent_id, kind, at, actor, reason in ConsentEvent.objects.filter(
            consent_id__in=SnapshotMember.objects.filter(snapshot=snapshot).values("consent_id"),
            kind__in=[ConsentEventKind.REVOKED, ConsentEventKind.EXPIRED],
        )
        .order_by("at", "id")
        .values_list("consent_id", "kind", "at", "actor", "reason")
    )
    anchor = (
        AuditEvent.objects.filter(subject_type=model_name(Snapshot), subject_id=str(snapshot.pk))
        .order_by("-seq")
        .values_list("seq", "hash", "event_type", "created_at")
        .first()
    )
    return SnapshotReport(
        snapshot_id=str(snapshot.pk),
        dataset=snapshot.dataset.slug,
        dataset_name=snapshot.dataset.name,
        status=snapshot.status,
        status_reason=snapshot.status_reason,
        status_changed_at=_iso(snapshot.status_changed_at),
        tainted=snapshot.status == SnapshotStatus.TAINTED,
        lapses=lapses,
        scopes=tuple(sorted(snapshot.scopes)),
        merkle_root=snapshot.merkle_root,
        tree=TREE,
        leaf_format=snapshot.leaf_format,
        leaf_definition=LEAF_DEFINITION,
        member_count=snapshot.asset_count,
        exclusion_count=SnapshotExclusion.objects.filter(snapshot=snapshot).count(),
        created_by=snapshot.created_by.get_username(),
        created_at=_iso(snapshot.created_at),
        approvals=approvals,
        approved_at=approved_at,
        container_sha256=snapshot.container_sha256,
        audit_anchor=AuditAnchor(seq=anchor[0], hash=anchor[1], event_type=anchor[2], at=_iso(anchor[3])) if anchor else None,
    )


# -- one record per member ----------------------------------------------------------------------
@dataclass(frozen=True)
class MemberRecord:
    leaf_index: int
    leaf_hash: str
    asset_id: str
    sha256: str
    format: str
    mime_type: str
    size: int
    width: int
    height: int
    source_url: str
    source_collection: str
    licensor: str
    licence_spdx: str
    contributor_id: str
    contributor: str
    consent_id: str
    consent_digest: str
    consent_scopes: tuple[str, ...]
    terms_version: str
    granted_at: str
    expires_at: str
    consent_revoked_at: str  # "" unless the consent was revoked (then the snapshot is tainted)
    evidence_sha256: str
    depicted_persons: tuple[str, ...]
    audit: AuditOutcome = field(default=NO_AUDIT)
    blob_missing: bool = False


_MEMBER_FIELDS = (
    "index",
    "asset_id",
    "asset_sha256",
    "consent_id",
    "consent_digest",
    "asset__format",
    "asset__mime_type",
    "asset__size",
    "asset__width",
    "asset__height",
    "asset__source__url",
    "asset__source__collection",
    "asset__source__licensor",
    "asset__source__licence_spdx",
    "asset__contributor_id",
    "asset__contributor__name",
    "consent__scopes",
    "consent__terms_version",
    "consent__granted_at",
    "consent__expires_at",
    "consent__evidence_id",
)


def member_records(snapshot: Snapshot, *, chunk: int = CHUNK) -> Iterator[MemberRecord]:
    """Every member in leaf order, read `chunk` leaves at a time (a range of the unique
    (snapshot, index) index: no server-side cursor, no OFFSET), never the whole list at once."""
    total = snapshot.asset_count
    for start in range(0, total, chunk):
        rows = list(
            SnapshotMember.objects.filter(snapshot=snapshot, index__gte=start, index__lt=start + chunk)
            .order_by("index")
            .values_list(*_MEMBER_FIELDS)
        )
        consent_ids = {row[3] for row in rows}
        persons: dict = {}
        for consent_id, name in (
            DepictedPerson.objects.filter(consent_id__in=consent_ids).order_by("name", "id").values_list("consent_id", "name")
        ):
            persons.setdefault(consent_id, []).append(name)
        revoked = dict(
            ConsentEvent.objects.filter(consent_id__in=consent_ids, kind=ConsentEventKind.REVOKED).values_list("consent_id", "at")
        )
        outcomes = _outcomes([str(row[1]) for row in rows])
        for row in rows:
            (index, asset_id, sha256, consent_id, digest, fmt, mime, size, width, height) = row[:10]
            (url, collection, licensor, spdx, contributor_id, contributor, scopes, terms, granted, expires, evidence) = row[10:]
            yield MemberRecord(
                leaf_index=index,
                leaf_hash=leaf_hash(snapshot_leaf(asset_sha256=sha256, consent_id=str(consent_id), consent_digest=digest)).hex(),
                asset_id=str(asset_id),
                sha256=sha256,
                format=fmt,
                mime_type=mime,
                size=size,
                width=width,
                height=height,
                source_url=url or "",
                source_collection=collection or "",
                licensor=licensor or "",
                licence_spdx=spdx or "",
                contributor_id=str(contributor_id),
                contributor=contributor,
                consent_id=str(consent_id),
                consent_digest=digest,
                consent_scopes=tuple(sorted(scopes)),
                terms_version=terms,
                granted_at=_iso(granted),
                expires_at=_iso(expires),
                consent_revoked_at=_iso(revoked.get(consent_id)),
                evidence_sha256=evidence,
                depicted_persons=tuple(persons.get(consent_id, ())),
                audit=outcomes.get(str(asset_id), NO_AUDIT),
                blob_missing=not blob_exists(sha256),
            )


@dataclass(frozen=True)
class ExclusionRecord:
    asset_id: str
    sha256: str
    reason: str
    detail: str


def exclusion_records(snapshot: Snapshot, *, chunk: int = CHUNK) -> Iterator[ExclusionRecord]:
    """The assets left out of the snapshot and why, in asset sha256 order (as the leaves)."""
    rows = (
        SnapshotExclusion.objects.filter(snapshot=snapshot)
        .order_by("asset__sha256", "id")
        .values_list("asset_id", "asset__sha256", "reason", "detail")
        .iterator(chunk_size=chunk)
    )
    for asset_id, sha256, reason, detail in rows:
        yield ExclusionRecord(asset_id=str(asset_id), sha256=sha256, reason=reason, detail=detail)
