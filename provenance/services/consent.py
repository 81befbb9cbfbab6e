"""Consent: grant (idempotent by digest), renew, expire and revoke, each a new row.

Revocation withdraws the consent's assets and taints every snapshot that holds them, in the
same transaction, each change in the audit log. Expiry (recorded by beat's
`provenance.expire_consents`) taints those snapshots too, the same way, but leaves the assets'
statuses alone: a renewed consent may cover them in a new snapshot. Either one then tells the
apps above (`hooks.consent_lapsed`), in the same transaction: auditing reopens the face findings
the consent's likeness grant had made informational.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeGuard, cast

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import actor_name, audit_append
from core.exceptions import ApplicationError, PermissionDenied
from core.models import EventType
from core.roles import Actor, Role, User, has_role
from provenance import hooks
from provenance.consent_document import ConsentDocument, consent_digest, parse_consent_bytes
from provenance.ingest.sources import display_path
from provenance.models import (
    Asset,
    AssetStatus,
    ConsentEvent,
    ConsentEventKind,
    ConsentRecord,
    Contributor,
    DepictedPerson,
    Snapshot,
    SnapshotMember,
)
from provenance.models.snapshots import SNAPSHOT_FINAL, SnapshotStatus
from provenance.selectors import consent_get, consent_state
from provenance.services.contributors import evidence_store

EvidenceOpener = Callable[[str], tuple[BinaryIO, str]]
MAX_EVIDENCE_BYTES = 100 * 1024 * 1024


def read_consent_file(path: str | Path) -> tuple[ConsentDocument, EvidenceOpener]:
    """Parse a consent file; evidence paths resolve beside it and may not escape its folder."""
    consent_path = Path(path)
    try:
        raw = consent_path.read_bytes()
    except OSError as exc:
        raise ApplicationError(f"cannot read consent file {str(path)!r}: {exc.strerror}", code="invalid_consent") from None
    document = parse_consent_bytes(raw)
    base = consent_path.resolve().parent

    def open_evidence(relative: str) -> tuple[BinaryIO, str]:
        candidate = Path(relative)
        resolved = (base / candidate).resolve()
        if candidate.is_absolute() or base not in resolved.parents:
            raise ApplicationError(
                f"consent file: evidence {relative!r} must be a path inside the consent file's folder",
                code="invalid_consent",
            )
        if not resolved.is_file():
            raise ApplicationError(f"consent file: evidence {relative!r} not found", code="invalid_consent")
        if resolved.stat().st_size > MAX_EVIDENCE_BYTES:
            raise ApplicationError(f"consent file: evidence {relative!r} is too large", code="invalid_consent")
        return resolved.open("rb"), display_path(resolved.name)

    return document, open_evidence


class _BorrowedUpload:
    """An upload lent to a service that closes what it reads: the upload itself stays open, so
    the same file can serve as evidence twice (the form and a depicted person's release)."""

    def __init__(self, upload: UploadedFile):
        self._upload = upload
        self.name = upload.name
        self.size = upload.size

    def read(self, size: int = -1) -> bytes:
        return self._upload.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._upload.seek(offset, whence)

    def tell(self) -> int:
        return self._upload.tell()

    def close(self) -> None:
        pass

    def __enter__(self) -> _BorrowedUpload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def evidence_opener_for_uploads(uploads: list[UploadedFile]) -> EvidenceOpener:
    """Resolve the consent document's `evidence` paths to uploads by file name."""
    by_name: dict[str, UploadedFile] = {}
    for upload in uploads:
        name = str(upload.name)
        if name in by_name:
            raise ApplicationError(f"two evidence uploads are named {name!r}", code="invalid_consent")
        by_name[name] = upload

    def open_evidence(relative: str) -> tuple[BinaryIO, str]:
        name = PurePosixPath(relative.replace("\\", "/")).name
        upload = by_name.get(name)
        if upload is None:
            raise ApplicationError(
                f"consent file: evidence {relative!r} was not uploaded (send it as an `evidence` file named {name!r})",
                code="invalid_consent",
            )
        if upload.size is None or upload.size > MAX_EVIDENCE_BYTES:  # an upload's size is always known
            raise ApplicationError(f"consent file: evidence {relative!r} is too large", code="invalid_consent")
        upload.seek(0)
        return cast(BinaryIO, _BorrowedUpload(upload)), name

    return open_evidence


def _store_evidence(open_evidence: EvidenceOpener, relative: str):
    stream, name = open_evidence(relative)
    with stream:
        return evidence_store(stream=stream, original_name=name)


@transaction.atomic
def consent_grant(
    *, document: ConsentDocument, contributor: Contributor, open_evidence: EvidenceOpener, actor: Actor = None
) -> tuple[ConsentRecord, bool]:
    """Record a consent grant. The same document (same evidence bytes) is one record: returns
    (record, created). `actor=None` is the platform's own operator (the command line)."""
    if actor is not None and not (
        has_role(actor, Role.OPERATOR) or (has_role(actor, Role.CONTRIBUTOR) and contributor.user_id == actor.pk)
    ):
        raise PermissionDenied("consent is recorded by an operator, or by the contributor it belongs to")
    if document.contributor != contributor.email:
        raise ApplicationError(
            f"consent file names contributor {document.contributor!r}, not {contributor.email!r}",
            code="invalid_consent",
        )
    evidence = _store_evidence(open_evidence, document.evidence)
    person_evidence = [_store_evidence(open_evidence, person.evidence) for person in document.depicted_persons]
    canonical = document.canonical(evidence_sha256=evidence.sha256, person_evidence_sha256=[e.sha256 for e in person_evidence])
    digest = consent_digest(canonical)
    existing = ConsentRecord.objects.filter(digest=digest).first()
    if existing is not None:
        return existing, False
    consent = ConsentRecord(
        contributor=contributor,
        scopes=list(document.scopes),
        terms_version=document.terms_version,
        granted_at=document.granted_at,
        expires_at=document.expires_at,
        evidence=evidence,
        digest=digest,
        document=canonical,
        recorded_by=str(getattr(actor, "username", actor) or "system"),
    )
    consent.save(force_insert=True)
    for person, person_doc in zip(document.depicted_persons, person_evidence, strict=True):
        DepictedPerson(consent=consent, name=person.name, scopes=list(person.scopes), evidence=person_doc).save()
    audit_append(
        actor=actor,
        event_type=EventType.CONSENT_GRANTED,
        subject=consent,
        details={"digest": digest, **canonical},
    )
    return consent, True


def _may_act_on_consent(user: Actor, consent: ConsentRecord) -> TypeGuard[User]:
    if has_role(user, Role.OPERATOR, Role.REVIEWER):
        return True
    return has_role(user, Role.CONTRIBUTOR) and consent.contributor.user_id == user.pk


@dataclass(frozen=True)
class ConsentRevocation:
    """What a revocation did: the assets it withdrew and the snapshots it tainted (ids)."""

    consent: ConsentRecord
    withdrawn_assets: list[str]
    tainted_snapshots: list[str]


def consent_withdrawable_assets(consent: ConsentRecord) -> QuerySet[Asset]:
    """The assets a revocation of `consent` withdraws (its own, not already withdrawn or erased),
    in the order it withdraws them. The revocation preview shows exactly these."""
    return (
        Asset.objects.filter(consent=consent)
        .exclude(status__in=[AssetStatus.WITHDRAWN, AssetStatus.ERASED])
        .order_by("created_at", "pk")
    )


def consent_taintable_snapshots(consent: ConsentRecord) -> QuerySet[Snapshot]:
    """The snapshots a consent that no longer holds (revoked, expired) taints: each one holding a
    member under it that is not already final, in the order they are tainted."""
    return (
        Snapshot.objects.filter(pk__in=SnapshotMember.objects.filter(consent=consent).values("snapshot_id"))
        .exclude(status__in=SNAPSHOT_FINAL)
        .order_by("created_at", "pk")
    )


def _may_revoke(consent: ConsentRecord, actor: Actor) -> User:
    if not _may_act_on_consent(actor, consent):
        raise PermissionDenied(f"{actor_name(actor)} may not revoke consent {consent.pk}")
    return actor


def _refuse_if_revoked(consent: ConsentRecord) -> None:
    if consent.events.filter(kind=ConsentEventKind.REVOKED).exists():
        raise ApplicationError(f"consent {consent.pk} is already revoked", code="already_revoked", status=409)


@dataclass(frozen=True)
class RevocationPreview:
    """What revoking a consent would do now: the assets it would withdraw and the snapshots it
    would taint (the same queries `consent_revoke` acts on)."""

    consent: ConsentRecord
    assets: list[Asset]
    snapshots: list[Snapshot]


def consent_revocation_preview(*, consent_id: str, actor: Actor) -> RevocationPreview:
    """What `consent_revoke` would withdraw and taint, read without writing; refused the way the
    revocation itself is (not the actor's consent, already revoked)."""
    consent = consent_get(consent_id=consent_id)
    _may_revoke(consent, actor)
    _refuse_if_revoked(consent)
    return RevocationPreview(
        consent=consent,
        assets=list(consent_withdrawable_assets(consent)),
        snapshots=list(consent_taintable_snapshots(consent).select_related("dataset")),
    )


@transaction.atomic
def consent_revoke(*, consent_id: str, actor: Actor, reason: str) -> ConsentRevocation:
    """Revoke a consent: its assets become `withdrawn` and every snapshot holding them `tainted`."""
    consent = consent_get(consent_id=consent_id)
    actor = _may_revoke(consent, actor)
    if not reason.strip():
        raise ApplicationError("a revocation needs a reason", code="reason_required")
    # Lock the grant so two revocations cannot both pass the check below.
    ConsentRecord.objects.select_for_update().filter(pk=consent.pk).first()
    _refuse_if_revoked(consent)
    ConsentEvent(consent=consent, kind=ConsentEventKind.REVOKED, actor=actor.username, reason=reason).save()
    audit_append(actor=actor, event_type=EventType.CONSENT_REVOKED, subject=consent, details={"reason": reason})

    from provenance.services.assets import asset_transition

    withdrawn = []
    for asset_id in consent_withdrawable_assets(consent).values_list("pk", flat=True):
        asset_transition(
            asset_id=asset_id, to=AssetStatus.WITHDRAWN, actor=actor, reason=f"consent {consent.pk} revoked: {reason}"
        )
        withdrawn.append(str(asset_id))
    tainted = _taint_snapshots_holding(consent, actor=actor, reason=f"consent {consent.pk} revoked: {reason}")
    hooks.consent_lapsed(str(consent.pk), actor, f"consent {consent.pk} revoked: {reason}")
    return ConsentRevocation(consent=consent, withdrawn_assets=withdrawn, tainted_snapshots=tainted)


@transaction.atomic
def consent_renew(*, consent_id: str, actor: Actor, expires_at: datetime | None, reason: str = "") -> ConsentRecord:
    """Extend (or lift, with None) a consent's expiry: a new event, the grant row is untouched."""
    consent = consent_get(consent_id=consent_id)
    if not _may_act_on_consent(actor, consent):
        raise PermissionDenied(f"{actor_name(actor)} may not renew consent {consent.pk}")
    ConsentRecord.objects.select_for_update().filter(pk=consent.pk).first()
    state = consent_state(consent)
    if state.status == "revoked":
        raise ApplicationError("a revoked consent cannot be renewed; grant a new one", code="already_revoked", status=409)
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("the new expiry must be in the future", code="invalid_expiry")
    ConsentEvent(
        consent=consent, kind=ConsentEventKind.RENEWED, actor=actor.username, reason=reason, expires_at=expires_at
    ).save()
    audit_append(
        actor=actor,
        event_type=EventType.CONSENT_RENEWED,
        subject=consent,
        details={"expires_at": expires_at.isoformat() if expires_at else None, "reason": reason},
    )
    return consent


def _taint_snapshots_holding(consent: ConsentRecord, *, actor: Actor, reason: str) -> list[str]:
    """A consent that no longer holds (revoked, expired) covers no snapshot: each one holding a
    member under it that is not already final becomes `tainted`. Call inside the transaction
    that records why."""
    from provenance.services.snapshots import snapshot_transition

    tainted = []
    for snapshot_id in consent_taintable_snapshots(consent).values_list("pk", flat=True):
        snapshot_transition(snapshot_id=snapshot_id, to=SnapshotStatus.TAINTED, actor=actor, reason=reason)
        tainted.append(str(snapshot_id))
    return tainted


CONSENT_EXPIRY_LOCK = 0x636C_6E65  # "clne": one expiry pass at a time (PostgreSQL advisory lock)


def _expiry_due(consent: ConsentRecord, events: list[ConsentEvent], at: datetime) -> datetime | None:
    """The expiry to record, or None when the consent has not expired or its expiry is recorded."""
    state = consent_state(consent, at=at, events=events)
    if state.status != "expired" or state.expires_at is None:
        return None
    if any(e.kind == ConsentEventKind.EXPIRED and e.at >= state.expires_at for e in events):
        return None
    return state.expires_at


def consent_expire_due(*, at: datetime | None = None) -> list[str]:
    """Record each consent whose expiry has passed and is not recorded yet: an `expired` event,
    CONSENT_EXPIRED in the audit log and every snapshot holding it tainted (`consent <id>
    expired <date>`), in one transaction per consent. Running it again writes nothing; a pass
    that finds another one at work (advisory lock) does nothing. Returns the consents expired."""
    from core.reconcile import advisory_lock

    at = at or timezone.now()
    expired = []
    with transaction.atomic():
        if not advisory_lock(CONSENT_EXPIRY_LOCK):
            return []
        candidates = ConsentRecord.objects.exclude(events__kind=ConsentEventKind.REVOKED).prefetch_related("events")
        for candidate in candidates.iterator(chunk_size=500):
            if _expiry_due(candidate, list(candidate.events.all()), at) is None:
                continue
            with transaction.atomic():
                # Locked and read again: a renewal or revocation meanwhile changes the answer.
                consent = ConsentRecord.objects.select_for_update().get(pk=candidate.pk)
                expires_at = _expiry_due(consent, list(consent.events.all()), at)
                if expires_at is None:
                    continue
                ConsentEvent(consent=consent, kind=ConsentEventKind.EXPIRED, actor="system", at=expires_at).save()
                audit_append(
                    actor=None,
                    event_type=EventType.CONSENT_EXPIRED,
                    subject=consent,
                    details={"expires_at": expires_at.isoformat()},
                )
                reason = f"consent {consent.pk} expired {expires_at.date().isoformat()}"
                _taint_snapshots_holding(consent, actor=None, reason=reason)
                hooks.consent_lapsed(str(consent.pk), None, reason)
            expired.append(str(consent.pk))
    return expired
