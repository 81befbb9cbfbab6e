"""What the contributor portal reads: a contributor's own images, consents and news, in words.

Everything here starts from a `Contributor`, so nothing of another contributor's can be read by
it. Two things the portal shows live in apps above provenance, which register providers here in
their `AppConfig.ready()` (provenance may not import them): auditing explains its open findings
in plain words (never the matched work, its owner or another person's evidence), training lists
the models trained on a set of snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet

from core.exceptions import NotFound
from provenance.models import (
    Asset,
    AssetStatus,
    ConsentEvent,
    ConsentRecord,
    Contributor,
    Snapshot,
    SnapshotMember,
    SnapshotStatus,
)
from provenance.selectors import ConsentState, _parse_uuid, consent_state

# What each status word means to the person who took the picture.
ASSET_STATUS_MEANING = {
    AssetStatus.INGESTED: "received; its checks have not started yet",
    AssetStatus.AUDITING: "being checked",
    AssetStatus.CLEAR: "passed every check; it may be used for training under your consent",
    AssetStatus.FLAGGED: "a check found something a reviewer must look at",
    AssetStatus.APPROVED: "a reviewer approved it; it may be used for training under your consent",
    AssetStatus.REJECTED: "a reviewer decided it cannot be used",
    AssetStatus.WITHDRAWN: "its consent was revoked, so it is no longer used",
    AssetStatus.ERASED: "the picture was deleted on request; only a record of it remains",
}

SCOPE_MEANING = {
    "ai_training": "Used to train AI models (for example to teach a model what a lighthouse looks like).",
    "generative_training": "Used to train models that make new images, which may then resemble your style or subjects.",
    "commercial_use": "Used in products or services that are sold, or that make money for the organisation.",
    "likeness": "The people shown may be recognisable in training data and in what models make; each of them must agree too.",
}


# -- providers from the apps above ------------------------------------------------------------------
FindingsExplainer = Callable[[list[str]], dict[str, list[str]]]
_explainers: list[FindingsExplainer] = []


@dataclass(frozen=True)
class TrainedModel:
    model_id: str
    snapshot_id: str
    base_model: str
    trained_at: datetime


ModelsTrainedOn = Callable[[list[str]], list[TrainedModel]]
_model_listers: list[ModelsTrainedOn] = []


def on_findings_explained(explainer: FindingsExplainer) -> None:
    """Register who says, per asset id, what its open findings are in plain words (auditing)."""
    if explainer not in _explainers:
        _explainers.append(explainer)


def on_models_trained_on(lister: ModelsTrainedOn) -> None:
    """Register who lists the models trained on a set of snapshot ids (training)."""
    if lister not in _model_listers:
        _model_listers.append(lister)


def findings_explained(asset_ids: list[str]) -> dict[str, list[str]]:
    explained: dict[str, list[str]] = {}
    for explainer in _explainers:
        for asset_id, sentences in explainer(asset_ids).items():
            explained.setdefault(asset_id, []).extend(s for s in sentences if s not in explained.get(asset_id, []))
    return explained


def models_trained_on(snapshot_ids: list[str]) -> list[TrainedModel]:
    if not snapshot_ids:
        return []
    found = {model.model_id: model for lister in _model_listers for model in lister(snapshot_ids)}
    return sorted(found.values(), key=lambda m: (m.trained_at, m.model_id))


# -- images ----------------------------------------------------------------------------------------
def portal_assets(contributor: Contributor, *, status: str | None = None) -> QuerySet[Asset]:
    """The contributor's own images (of every consent), optionally of one status."""
    assets = Asset.objects.filter(contributor=contributor)
    return assets.filter(status=status) if status else assets


def portal_status_counts(contributor: Contributor) -> list[tuple[str, int]]:
    """(status, how many of their images have it), for every status, in the state machine's order."""
    counted = dict(portal_assets(contributor).values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return [(status, counted.get(status, 0)) for status in AssetStatus.values]


# -- consents ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortalConsent:
    consent: ConsentRecord
    state: ConsentState
    events: list[ConsentEvent]


def portal_consents(contributor: Contributor) -> list[PortalConsent]:
    """Their consents, newest grant first, each with its state now."""
    consents = list(
        ConsentRecord.objects.filter(contributor=contributor).prefetch_related("events").order_by("-granted_at", "-pk")
    )
    return [PortalConsent(c, consent_state(c, events=list(c.events.all())), list(c.events.all())) for c in consents]


def portal_consent_get(contributor: Contributor, consent_id: str) -> PortalConsent:
    """One of their consents; NotFound for any other id (another contributor's too: its
    existence never leaks)."""
    consent = (
        ConsentRecord.objects.filter(contributor=contributor, pk=_parse_uuid(consent_id, "consent"))
        .select_related("evidence", "contributor")
        .prefetch_related("events", "depicted_persons__evidence")
        .first()
    )
    if consent is None:
        raise NotFound(f"no consent of yours with id {consent_id!r}", code="unknown_consent")
    events = list(consent.events.all())
    return PortalConsent(consent, consent_state(consent, events=events), events)


@dataclass(frozen=True)
class RevocationEffects:
    """What a revocation did, read back afterwards: the images it withdrew, the snapshots it
    tainted and the models trained on them."""

    assets: list[Asset]
    snapshots: list[Snapshot]
    models: list[TrainedModel]


def portal_revocation_effects(consent: ConsentRecord) -> RevocationEffects:
    """Read from what the revocation wrote: the assets withdrawn and snapshots tainted because of
    this consent (their status reason names it)."""
    reason_start = f"consent {consent.pk} revoked"
    snapshots = list(
        Snapshot.objects.filter(
            pk__in=SnapshotMember.objects.filter(consent=consent).values("snapshot_id"),
            status=SnapshotStatus.TAINTED,
            status_reason__startswith=reason_start,
        )
        .select_related("dataset")
        .order_by("created_at", "pk")
    )
    assets = list(consent.assets.filter(status=AssetStatus.WITHDRAWN).order_by("created_at", "pk"))
    return RevocationEffects(assets, snapshots, models_trained_on([str(s.pk) for s in snapshots]))


# -- news since the last visit ------------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """One thing that happened to their images: a snapshot holding some was approved, or a
    model was trained on one."""

    at: datetime
    snapshot: Snapshot
    assets: list[Asset]
    model: TrainedModel | None = None


def portal_notices(contributor: Contributor, *, since: datetime | None, limit: int = 20) -> list[Notice]:
    """What happened to their images after `since` (everything when None), newest first: each
    approved snapshot that holds some of them (approved after `since`) and each model trained
    after `since` on a snapshot that holds some of them."""
    holding = SnapshotMember.objects.filter(asset__contributor=contributor).values("snapshot_id")
    approved = Snapshot.objects.filter(pk__in=holding, status=SnapshotStatus.APPROVED)
    if since is not None:
        approved = approved.filter(status_changed_at__gt=since)
    approved_list = list(approved.select_related("dataset").order_by("-status_changed_at")[:limit])
    snapshots = {s.pk: s for s in approved_list}
    models = models_trained_on([str(pk) for pk in Snapshot.objects.filter(pk__in=holding).values_list("pk", flat=True)])
    if since is not None:
        models = [m for m in models if m.trained_at > since]
    models = sorted(models, key=lambda m: m.trained_at, reverse=True)[:limit]
    missing = {m.snapshot_id for m in models} - {str(pk) for pk in snapshots}
    snapshots.update({s.pk: s for s in Snapshot.objects.filter(pk__in=missing).select_related("dataset")})
    theirs: dict[str, list[Asset]] = {}
    members = SnapshotMember.objects.filter(snapshot_id__in=snapshots.keys(), asset__contributor=contributor)
    for member in members.select_related("asset").order_by("index"):
        theirs.setdefault(str(member.snapshot_id), []).append(member.asset)
    notices = [Notice(at=s.status_changed_at, snapshot=s, assets=theirs.get(str(s.pk), [])) for s in approved_list]
    by_id = {str(pk): s for pk, s in snapshots.items()}
    notices += [
        Notice(at=m.trained_at, snapshot=by_id[m.snapshot_id], assets=theirs.get(m.snapshot_id, []), model=m) for m in models
    ]
    return sorted(notices, key=lambda n: n.at, reverse=True)[:limit]
