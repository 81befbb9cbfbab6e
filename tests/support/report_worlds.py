"""A snapshot worth exporting, built through the services: five images from a licensed source
under a consent that names a depicted person (factory rows: no image stored, so the export must
say their blobs are missing), one really ingested image whose audit finding rita dismissed, and
one flagged image left out; mel froze it and rita and ravi approved it."""

from __future__ import annotations

from auditing.services.audits import finding_resolve
from provenance.models import AssetStatus, DepictedPerson, Snapshot, Source
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.auditing.factories import flagged_finding
from tests.provenance.factories import (
    AssetFactory,
    ConsentFactory,
    DatasetFactory,
    EvidenceFactory,
    add_to_dataset,
    grant_consent,
)

DISMISSAL_REASON = "a real photograph"
# A source whose words a spreadsheet would run as formulas: the CSV must show them as text.
HOSTILE_COLLECTION = '=HYPERLINK("http://evil.example","click")'


def report_snapshot(
    settings, contributor, reviewer, second_reviewer, ml_engineer, *, approve: bool = True, slug: str = "faces", seed: int = 3
) -> Snapshot:
    dataset = DatasetFactory(slug=slug, name=slug.capitalize())
    source = Source.objects.create(
        url="https://photos.example.com/set", collection=HOSTILE_COLLECTION, licensor="Acme Photo", licence_spdx="CC-BY-4.0"
    )
    consent = ConsentFactory(scopes=["generative_training", "ai_training", "likeness"])
    DepictedPerson.objects.create(consent=consent, name="Dana Model", scopes=["likeness"], evidence=EvidenceFactory())
    add_to_dataset(dataset, *[AssetFactory(consent=consent, source=source) for _ in range(5)])
    own = grant_consent(contributor, "carla@example.com")
    finding = flagged_finding(settings, contributor, dataset, own, seed=seed)
    finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason=DISMISSAL_REASON)
    add_to_dataset(dataset, AssetFactory(status=AssetStatus.FLAGGED))
    snapshot = snapshot_create(dataset_slug=slug, actor=ml_engineer)
    if approve:
        snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=reviewer)
        snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=second_reviewer)
    return Snapshot.objects.select_related("dataset", "created_by").get(pk=snapshot.pk)
