from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError, PermissionDenied
from provenance.models import ConsentEvent, ConsentRecord, EvidenceDocument
from provenance.selectors import consent_state
from provenance.services.consent import (
    consent_expire_due,
    consent_grant,
    consent_renew,
    consent_revoke,
    read_consent_file,
)
from provenance.services.contributors import contributor_get
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db


def grant(path, email="carla@example.com"):
    document, opener = read_consent_file(path)
    return consent_grant(document=document, contributor=contributor_get(email=email), open_evidence=opener)


def test_the_same_consent_file_is_one_record(contributor, tmp_path):
    path = write_consent(tmp_path, contributor="carla@example.com")
    first, created = grant(path)
    second, created_again = grant(path)
    assert created and not created_again and first.pk == second.pk
    assert ConsentRecord.objects.count() == 1


def test_evidence_is_stored_content_addressed_with_its_sha256(contributor, tmp_path):
    path = write_consent(tmp_path, contributor="carla@example.com", evidence=b"signed form bytes")
    consent, _ = grant(path)
    import hashlib

    assert consent.evidence.sha256 == hashlib.sha256(b"signed form bytes").hexdigest()
    assert EvidenceDocument.objects.count() == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"scopes": ["ai_training", "gen_training"]}, "unknown scope"),
        ({"scope": ["ai_training"]}, "unknown key"),
        ({"granted_at": "yesterday"}, "ISO 8601"),
        ({"expires_at": "2025-01-01"}, "after granted_at"),
        ({"scopes": []}, "non-empty"),
        ({"scopes": ["likeness"]}, "depicted_persons"),
        ({"evidence": "../../etc/passwd"}, "inside the consent file's folder"),
        ({"evidence": "/etc/passwd"}, "inside the consent file's folder"),
        ({"evidence": "missing.pdf"}, "not found"),
        ({"contributor": "someone@else.com"}, "not 'carla@example.com'"),
        ({"depicted_persons": [{"name": "Pat", "scopes": ["likeness"], "evidence": "evidence.pdf", "age": 3}]}, "unknown key"),
    ],
)
def test_a_malformed_consent_file_is_refused_with_a_reason(contributor, tmp_path, change, message):
    path = write_consent(tmp_path, contributor="carla@example.com")
    document = json.loads(path.read_text())
    document.update(change)
    if "scope" in change:
        del document["scopes"]
    path.write_text(json.dumps(document))
    with pytest.raises(ApplicationError) as refused:
        grant(path)
    assert refused.value.code == "invalid_consent"
    assert message in refused.value.message


def test_a_consent_file_that_is_not_json_is_refused(contributor, tmp_path):
    path = tmp_path / "consent.json"
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ApplicationError, match="not valid JSON"):
        grant(path)


def test_likeness_consent_names_the_depicted_person(contributor, tmp_path):
    path = write_consent(
        tmp_path,
        contributor="carla@example.com",
        scopes=["ai_training", "likeness"],
        depicted_persons=[{"name": "Pat Model", "scopes": ["likeness"], "evidence": "evidence.pdf"}],
    )
    consent, _ = grant(path)
    assert [p.name for p in consent.depicted_persons.all()] == ["Pat Model"]


def test_revocation_and_renewal_are_new_rows_never_edits(contributor, operator, tmp_path):
    consent, _ = grant(write_consent(tmp_path, contributor="carla@example.com", expires_at="2030-01-01"))
    later = timezone.now() + timedelta(days=3650)
    consent_renew(consent_id=str(consent.pk), actor=operator, expires_at=later, reason="renewed")
    consent_revoke(consent_id=str(consent.pk), actor=contributor, reason="I changed my mind")
    consent.refresh_from_db()
    assert consent.expires_at.year == 2030  # the grant row never changes
    assert list(consent.events.values_list("kind", flat=True)) == ["renewed", "revoked"]
    assert consent_state(consent).status == "revoked"


def test_a_consent_cannot_be_revoked_twice(contributor, tmp_path):
    consent, _ = grant(write_consent(tmp_path, contributor="carla@example.com"))
    consent_revoke(consent_id=str(consent.pk), actor=contributor, reason="no")
    with pytest.raises(ApplicationError) as refused:
        consent_revoke(consent_id=str(consent.pk), actor=contributor, reason="no again")
    assert refused.value.code == "already_revoked"


def test_another_contributor_cannot_revoke_my_consent(contributor, other_contributor, tmp_path):
    consent, _ = grant(write_consent(tmp_path, contributor="carla@example.com"))
    with pytest.raises(PermissionDenied):
        consent_revoke(consent_id=str(consent.pk), actor=other_contributor, reason="mischief")


def test_expiry_is_recorded_once_as_an_event(contributor, tmp_path):
    consent, _ = grant(write_consent(tmp_path, contributor="carla@example.com", expires_at="2026-06-01"))
    assert consent_expire_due() == [str(consent.pk)]
    assert consent_expire_due() == []
    assert ConsentEvent.objects.filter(consent=consent, kind="expired").count() == 1
    assert consent_state(consent).status == "expired"
