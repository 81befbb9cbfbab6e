"""Faces and likeness consent (auditing/services/likeness.py): a face in an image whose consent
validly grants likeness for the persons shown is informational, holding nothing back; without
that, or once the consent lapses, it blocks as any finding does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from core.audit import auditlog_verify
from core.models import AuditEvent, EventType
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, ConsentEvent
from provenance.services.consent import consent_expire_due, consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from provenance.services.snapshots import snapshot_create
from tests.provenance.factories import image_bytes, write_consent
from tests.support.pages import client

pytestmark = pytest.mark.django_db
ADA = {"name": "Ada Example", "scopes": ["likeness"], "evidence": "evidence.pdf"}
LIKENESS = ["ai_training", "likeness"]


@pytest.fixture
def audited(contributor, tmp_path, settings):
    """`audited(scopes, persons, face_backend=…)`: ingest one photo under a consent with these
    scopes and depicted persons, audit it with the PII auditor (faces from a stand-in detector,
    no OCR), and return the asset."""
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor"]
    dataset_create(slug="portraits", scopes=["ai_training"])

    def run(scopes: list[str], persons: list[dict], *, face_backend: str = "tests.auditing.auditors.LowerRightFace", **consent):
        settings.CLEANROOM_PII = {"OCR": False, "FACES": True, "FACE_BACKEND": face_backend}
        path = tmp_path / "in" / "portrait.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(image_bytes(7))
        extra = {"depicted_persons": persons} if persons else {}
        consent_path = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=scopes, **extra, **consent)
        batch = ingest_paths(
            paths=[str(path)], dataset_slug="portraits", contributor_email="carla@example.com", consent_path=str(consent_path)
        )
        [accepted] = IngestResultSerializer(batch).data["accepted"]
        return Asset.objects.get(pk=accepted["asset_id"])

    return run


def audit(asset: Asset) -> str:
    with transaction.atomic():
        audits_request(asset_ids=[asset.pk])
    return asset_audit_run(asset_id=str(asset.pk), task_id="likeness")


def run_event(asset: Asset) -> AuditEvent:
    return AuditEvent.objects.get(event_type=EventType.AUDIT_RUN_FINISHED, subject_id=str(asset.pk))


def test_a_face_under_a_valid_likeness_consent_is_informational_and_holds_nothing_back(audited, ml_engineer, reviewer):
    asset = audited(LIKENESS, [ADA])

    assert audit(asset) == "clear"

    [face] = Finding.objects.filter(asset=asset)
    assert (face.code, face.status, face.covering_consent_id) == ("pii.face.face", "informational", asset.consent_id)
    basis = run_event(asset).details["likeness"]
    assert basis == {
        "consent_id": str(asset.consent_id),
        "consent_digest": asset.consent.digest,
        "faces": 1,
        "outcome": "informational",
        "persons": ["Ada Example"],
    }
    snapshot = snapshot_create(dataset_slug="portraits", actor=ml_engineer)
    assert snapshot.asset_count == 1 and not snapshot.exclusions.exists()
    page = client(reviewer).get(f"/review/assets/{asset.pk}/").content.decode()
    said = f"Informational: the person shown (Ada Example) agreed to the use of their likeness (consent {asset.consent_id})"
    assert said in page
    assert f'name="finding" value="{face.pk}"' not in page  # nothing for a reviewer to decide
    assert client(reviewer).get("/review/").content.decode().count(str(asset.pk)) == 0


def test_the_api_shows_the_finding_informational_with_its_consent(audited, reviewer, client_for):
    asset = audited(LIKENESS, [ADA])
    audit(asset)

    [body] = client_for(reviewer).get(f"/api/v1/findings/?asset={asset.pk}").json()["results"]

    assert (body["status"], body["covering_consent"], body["asset_status"]) == ("informational", str(asset.consent_id), "clear")
    assert body["consent_note"].startswith("Informational: the person shown (Ada Example) agreed")


def test_a_face_without_the_likeness_scope_blocks_as_before(audited):
    asset = audited(["ai_training"], [])

    assert audit(asset) == "flagged"

    [face] = Finding.objects.filter(asset=asset)
    assert (face.status, face.covering_consent_id) == ("open", None)
    basis = run_event(asset).details["likeness"]
    assert (basis["outcome"], basis["why"]) == ("open", "the consent does not grant the likeness scope")


def test_more_faces_than_persons_named_all_block(audited):
    asset = audited(LIKENESS, [ADA], face_backend="tests.auditing.auditors.TwoFaces")

    assert audit(asset) == "flagged"

    assert sorted(Finding.objects.filter(asset=asset).values_list("status", flat=True)) == ["open", "open"]
    assert run_event(asset).details["likeness"]["why"] == "2 faces were found but the consent names 1 person(s)"


def test_a_face_audited_after_the_likeness_consent_expired_blocks(audited):
    asset = audited(LIKENESS, [ADA])
    # A renewal recorded earlier, whose new expiry has since passed.
    yesterday = timezone.now() - timedelta(days=1)
    ConsentEvent.objects.create(
        consent=asset.consent, kind="renewed", at=yesterday - timedelta(days=1), actor="carla", expires_at=yesterday
    )

    assert audit(asset) == "flagged"

    assert Finding.objects.get(asset=asset).status == "open"
    assert run_event(asset).details["likeness"]["why"] == "the consent is expired"


def test_when_the_likeness_consent_expires_the_face_blocks_again_and_the_asset_is_flagged(audited):
    asset = audited(LIKENESS, [ADA], expires_at="2030-06-01T00:00:00Z")
    audit(asset)
    face = Finding.objects.get(asset=asset)

    consent_expire_due(at=datetime(2030, 6, 2, tzinfo=UTC))

    face.refresh_from_db()
    asset.refresh_from_db()
    assert (face.status, face.covering_consent_id, asset.status) == ("open", asset.consent_id, "flagged")
    event = AuditEvent.objects.get(event_type=EventType.FINDING_RECLASSIFIED, subject_id=str(face.pk))
    assert event.details == {
        "asset_id": str(asset.pk),
        "code": "pii.face.face",
        "from": "informational",
        "to": "open",
        "consent_id": str(asset.consent_id),
        "reason": f"likeness no longer consented: consent {asset.consent_id} expired 2030-06-01",
    }
    assert "has since been revoked or has expired" in face.consent_note
    assert auditlog_verify().valid


def test_when_the_likeness_consent_is_revoked_the_face_blocks_again(audited, contributor):
    asset = audited(LIKENESS, [ADA])
    audit(asset)

    consent_revoke(consent_id=str(asset.consent_id), actor=contributor, reason="Ada asked")

    face = Finding.objects.get(asset=asset)
    asset.refresh_from_db()
    assert (face.status, asset.status) == ("open", "withdrawn")
    event = AuditEvent.objects.get(event_type=EventType.FINDING_RECLASSIFIED, subject_id=str(face.pk))
    assert event.actor == contributor.username
    assert event.details["reason"] == f"likeness no longer consented: consent {asset.consent_id} revoked: Ada asked"
