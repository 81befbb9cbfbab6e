"""Enrolling contributors in a dataset through the API: the ML engineer or operator decides
whose files a dataset accepts; the contributor then sees it and ingests into it."""

from __future__ import annotations

import pytest

from core.models import AuditEvent, EventType
from provenance.models import DatasetEnrolment
from provenance.services.datasets import dataset_create
from tests.provenance.factories import grant_consent, jpeg

pytestmark = pytest.mark.django_db
ENROL = "/api/v1/datasets/landscapes/enrol/"
UNENROL = "/api/v1/datasets/landscapes/unenrol/"


def test_an_enrolled_contributor_sees_the_dataset_and_ingests_into_it_until_unenrolled(
    contributor, ml_engineer, operator, client_for
) -> None:
    dataset = dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")

    def carla_uploads(seed: int):
        body = {"dataset": "landscapes", "consent_id": str(consent.pk), "files": [jpeg(f"{seed}.jpg", seed=seed)]}
        return client_for(contributor).post("/api/v1/ingest/", body, format="multipart")

    enrolled = client_for(ml_engineer).post(ENROL, {"contributor": "carla@example.com", "reason": "new shoot"}, format="json")
    again = client_for(operator).post(ENROL, {"contributor": "carla@example.com"}, format="json")
    seen = client_for(contributor).get("/api/v1/datasets/landscapes/")
    uploaded = carla_uploads(1)
    unenrolled = client_for(operator).post(UNENROL, {"contributor": "carla@example.com"}, format="json")
    refused = carla_uploads(2)
    hidden = client_for(contributor).get("/api/v1/datasets/landscapes/")

    assert (enrolled.status_code, enrolled.json()["enrolled"], enrolled.json()["changed"]) == (201, True, True)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    assert seen.status_code == 200
    assert uploaded.status_code == 200 and len(uploaded.json()["accepted"]) == 1
    assert (unenrolled.status_code, unenrolled.json()["enrolled"], unenrolled.json()["changed"]) == (200, False, True)
    assert (refused.status_code, refused.json()["code"]) == (404, "unknown_dataset")
    assert hidden.status_code == 404
    assert dataset.assets.count() == 1


def test_enrolling_into_an_unknown_dataset_or_an_unknown_contributor_is_refused(contributor, operator, client_for) -> None:
    dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)
    client = client_for(operator)

    no_dataset = client.post("/api/v1/datasets/nowhere/enrol/", {"contributor": "carla@example.com"}, format="json")
    no_contributor = client.post(ENROL, {"contributor": "nobody@example.com"}, format="json")
    no_body = client.post(ENROL, {}, format="json")

    assert (no_dataset.status_code, no_dataset.json()["code"]) == (404, "unknown_dataset")
    assert (no_contributor.status_code, no_contributor.json()["code"]) == (400, "unknown_contributor")
    assert (no_body.status_code, set(no_body.json()["fields"])) == (400, {"contributor"})


def test_an_operators_upload_on_a_contributors_behalf_enrols_them_on_the_record(contributor, operator, client_for) -> None:
    dataset = dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    body = {"dataset": "landscapes", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)]}

    uploaded = client_for(operator).post("/api/v1/ingest/", body, format="multipart")

    assert uploaded.status_code == 200 and len(uploaded.json()["accepted"]) == 1
    enrolment = DatasetEnrolment.objects.get(dataset=dataset, contributor__email="carla@example.com")
    event = AuditEvent.objects.get(event_type=EventType.DATASET_CONTRIBUTOR_ENROLLED)
    assert (enrolment.enrolled_by, event.actor, event.details["reason"]) == (
        "opal",
        "opal",
        "ingested on the contributor's behalf",
    )
    assert client_for(contributor).get("/api/v1/datasets/landscapes/").status_code == 200
