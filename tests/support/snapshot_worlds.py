"""A dataset with two snapshots to compare, through the services (the audit log stays valid).

`diff_world`: on top of the API world (tests.support.worlds.api_world: carla's image in
`portraits`, frozen by mel into a snapshot in review), rita and ravi approve that snapshot.
Then, in order: a generated image of carla's is flagged and rita dismisses its finding; otto
joins under his own consent and rita approves his image; carla renews her consent; rita
rejects carla's first image; mel builds a second snapshot. Against the first, the second has
two images added (the dismissed one and otto's), one removed (carla's first), one consent newly
relied on (otto's), one consent renewed (carla's) and one finding dismissed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from auditing.models import Finding
from auditing.services.audits import finding_resolve
from provenance.models import Asset, ConsentRecord, Snapshot
from provenance.services.assets import asset_review
from provenance.services.consent import consent_renew
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.auditing.factories import flagged_finding
from tests.provenance.factories import grant_consent, ingest, jpeg
from tests.support.worlds import World

DISMISSAL_REASON = "A photograph of a printed picture, not generated"


@dataclass
class DiffWorld:
    before: Snapshot  # approved
    after: Snapshot  # in review
    dismissed: Finding
    added_by_otto: Asset
    removed: Asset
    otto_consent: ConsentRecord


def diff_world(settings, world: World, *, contributor, other_contributor, reviewer, second_reviewer, ml_engineer) -> DiffWorld:
    before = world.snapshot
    snapshot_approve(snapshot_id=str(before.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(before.pk), reviewer=second_reviewer)

    finding = flagged_finding(settings, contributor, world.dataset, world.consent, seed=41)
    finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason=DISMISSAL_REASON)

    otto_consent = grant_consent(other_contributor, "otto@example.com")
    otto_id = ingest(other_contributor, world.dataset, otto_consent, jpeg("otto.jpg", seed=7))["accepted"][0]["asset_id"]
    otto_asset = asset_review(asset_id=otto_id, reviewer=reviewer, decision="approve", reason="clean")

    next_year = timezone.now() + timedelta(days=365)
    consent_renew(consent_id=str(world.consent.pk), actor=contributor, expires_at=next_year, reason="another year")
    removed = asset_review(asset_id=str(world.asset.pk), reviewer=reviewer, decision="reject", reason="the sitter asked")

    after = snapshot_create(dataset_slug=world.dataset.slug, actor=ml_engineer)
    return DiffWorld(
        before=Snapshot.objects.get(pk=before.pk),
        after=after,
        dismissed=Finding.objects.get(pk=finding.pk),
        added_by_otto=otto_asset,
        removed=removed,
        otto_consent=otto_consent,
    )
