"""Consent through the API: grant (multipart), read, revoke and renew."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from provenance.models import ConsentRecord, SnapshotStatus
from provenance.services.consent import consent_revoke
from tests.provenance.factories import consent_json, consent_upload, grant_consent
from tests.support.worlds import World

CONSENTS = "/api/v1/consents/"


def test_a_contributor_records_their_own_consent_and_the_same_document_again_is_the_same_record(contributor, client_for) -> None:
    client = client_for(contributor)

    first = client.post(CONSENTS, consent_upload("carla@example.com"), format="multipart")
    again = client.post(CONSENTS, consent_upload("carla@example.com"), format="multipart")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert ConsentRecord.objects.count() == 1
    body = first.json()
    assert body["state"] == "active"
    assert body["scopes"] == ["ai_training", "generative_training"]
    assert body["contributor"] == "carla@example.com"
    assert len(body["evidence_sha256"]) == 64


def test_a_likeness_consent_lists_its_depicted_persons_with_their_release_digests(operator, contributor, client_for) -> None:
    document = consent_json(
        "carla@example.com",
        scopes=["ai_training", "likeness"],
        depicted_persons=[{"name": "Dana Model", "scopes": ["likeness"], "evidence": "releases/dana.pdf"}],
    )
    files = {
        "contributor": "carla@example.com",
        "document": SimpleUploadedFile("consent.json", document),
        "evidence": [SimpleUploadedFile("form.pdf", b"%PDF form"), SimpleUploadedFile("dana.pdf", b"%PDF dana")],
    }

    response = client_for(operator).post(CONSENTS, files, format="multipart")

    assert response.status_code == 201, response.content
    [person] = response.json()["depicted_persons"]
    assert person["name"] == "Dana Model"
    assert person["scopes"] == ["likeness"]
    assert len(person["evidence_sha256"]) == 64


def test_evidence_the_document_names_but_that_was_not_uploaded_is_a_400(contributor, client_for) -> None:
    body = consent_upload("carla@example.com")
    body["evidence"] = [SimpleUploadedFile("other.pdf", b"%PDF")]

    response = client_for(contributor).post(CONSENTS, body, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_consent"
    assert "form.pdf" in response.json()["error"]


def test_a_document_with_an_unknown_key_is_refused_with_a_400(contributor, client_for) -> None:
    body = consent_upload("carla@example.com", expires="never")

    response = client_for(contributor).post(CONSENTS, body, format="multipart")

    assert response.status_code == 400
    assert "unknown key" in response.json()["error"]


def test_a_document_that_is_not_json_is_refused_with_a_400(contributor, client_for) -> None:
    body = consent_upload("carla@example.com")
    body["document"] = SimpleUploadedFile("consent.json", b"\x00\xffnot json")

    response = client_for(contributor).post(CONSENTS, body, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_consent"


def test_a_contributor_cannot_record_consent_for_someone_else(contributor, other_contributor, client_for) -> None:
    response = client_for(other_contributor).post(CONSENTS, consent_upload("carla@example.com"), format="multipart")

    assert response.status_code == 403
    assert not ConsentRecord.objects.exists()


def test_a_contributor_sees_only_their_own_consents(contributor, other_contributor, client_for) -> None:
    carlas = grant_consent(contributor, "carla@example.com")
    ottos = grant_consent(other_contributor, "otto@example.com", evidence_bytes=b"%PDF otto")
    client = client_for(other_contributor)

    listed = client.get(CONSENTS).json()["results"]
    hidden = client.get(f"{CONSENTS}{carlas.pk}/")

    assert [row["id"] for row in listed] == [str(ottos.pk)]
    assert hidden.status_code == 404


def test_revoking_through_the_api_withdraws_the_images_and_taints_the_snapshot(world: World, contributor, client_for) -> None:
    response = client_for(contributor).post(f"{CONSENTS}{world.consent.pk}/revoke/", {"reason": "I changed my mind"})

    assert response.status_code == 200
    assert response.json() == {
        "consent_id": str(world.consent.pk),
        "withdrawn_assets": [str(world.asset.pk)],
        "tainted_snapshots": [str(world.snapshot.pk)],
    }
    world.snapshot.refresh_from_db()
    assert world.snapshot.status == SnapshotStatus.TAINTED
    assert client_for(contributor).get(f"{CONSENTS}{world.consent.pk}/").json()["state"] == "revoked"


def test_revoking_twice_is_a_409_and_a_blank_reason_a_400(world: World, contributor, client_for) -> None:
    client = client_for(contributor)

    blank = client.post(f"{CONSENTS}{world.consent.pk}/revoke/", {"reason": "   "})
    first = client.post(f"{CONSENTS}{world.consent.pk}/revoke/", {"reason": "withdrawn"})
    second = client.post(f"{CONSENTS}{world.consent.pk}/revoke/", {"reason": "withdrawn"})

    assert (blank.status_code, first.status_code, second.status_code) == (400, 200, 409)
    assert second.json()["code"] == "already_revoked"


def test_renewing_sets_the_expiry_in_force_without_touching_the_grant(world: World, operator, client_for) -> None:
    response = client_for(operator).post(
        f"{CONSENTS}{world.consent.pk}/renew/", {"expires_at": "2030-01-01T00:00:00Z", "reason": "two more years"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["expires_at"] == "2030-01-01T00:00:00Z"
    assert [event["kind"] for event in response.json()["events"]] == ["renewed"]
    world.consent.refresh_from_db()
    assert world.consent.expires_at is None


def test_a_revoked_consent_cannot_be_renewed(world: World, operator, client_for) -> None:
    consent_revoke(consent_id=str(world.consent.pk), actor=operator, reason="withdrawn")

    response = client_for(operator).post(f"{CONSENTS}{world.consent.pk}/renew/", {"expires_at": None}, format="json")

    assert response.status_code == 409


def test_a_renewal_with_a_malformed_expiry_is_a_400(world: World, operator, client_for) -> None:
    response = client_for(operator).post(f"{CONSENTS}{world.consent.pk}/renew/", {"expires_at": "next tuesday"})

    assert response.status_code == 400
    assert "expires_at" in response.json()["fields"]
