"""The findings API: who sees which findings, filtering, and resolving them (dismiss, confirm).

Findings come from the real pipeline: an ingested image whose XMP declares it made by a trained
model, audited by the synthetic auditor.
"""

from __future__ import annotations

import uuid

import pytest

from auditing.models import Finding
from provenance.models import Asset
from tests.auditing.factories import SYNTHETIC_AUDITOR, flagged_finding
from tests.provenance.factories import grant_consent, ingest, jpeg
from tests.support.worlds import World


@pytest.fixture
def carlas_finding(world: World, contributor, settings) -> Finding:
    return flagged_finding(settings, contributor, world.dataset, world.consent, seed=11)


@pytest.fixture
def ottos_finding(world: World, other_contributor, settings) -> Finding:
    consent = grant_consent(other_contributor, "otto@example.com", evidence_bytes=b"%PDF otto's form")
    return flagged_finding(settings, other_contributor, world.dataset, consent, seed=12)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content[:400]
    return [row["id"] for row in response.json()["results"]]


# -- reading ---------------------------------------------------------------------------------
def test_an_audited_generated_image_shows_its_finding_with_the_evidence(carlas_finding, reviewer, client_for):
    response = client_for(reviewer).get(f"/api/v1/findings/{carlas_finding.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["auditor"], body["code"], body["status"]) == ("synthetic", "synthetic.trained_algorithmic_media", "open")
    assert body["asset"] == str(carlas_finding.asset_id) and body["asset_status"] == "flagged"
    assert body["details"]["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert body["resolved_by"] is None


def test_a_reviewer_lists_every_finding_and_narrows_them_with_filters(carlas_finding, ottos_finding, reviewer, client_for):
    api = client_for(reviewer)
    both = {str(carlas_finding.pk), str(ottos_finding.pk)}

    assert set(ids(api.get("/api/v1/findings/"))) == both
    assert ids(api.get(f"/api/v1/findings/?asset={carlas_finding.asset_id}")) == [str(carlas_finding.pk)]
    assert set(ids(api.get("/api/v1/findings/?dataset=portraits"))) == both
    assert ids(api.get("/api/v1/findings/?dataset=landscapes")) == []
    assert set(ids(api.get("/api/v1/findings/?status=open"))) == both
    assert ids(api.get("/api/v1/findings/?status=dismissed")) == []
    assert set(ids(api.get("/api/v1/findings/?auditor=synthetic"))) == both
    assert ids(api.get("/api/v1/findings/?auditor=pii")) == []


@pytest.mark.parametrize("query", ["status=pending", "asset=not-a-uuid"])
def test_a_malformed_filter_is_a_400_not_an_empty_list(carlas_finding, reviewer, client_for, query):
    response = client_for(reviewer).get(f"/api/v1/findings/?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {query.split("=")[0]}


def test_the_per_asset_and_per_dataset_lists_hold_their_findings(carlas_finding, ottos_finding, compliance, client_for):
    api = client_for(compliance)

    assert ids(api.get(f"/api/v1/assets/{ottos_finding.asset_id}/findings/")) == [str(ottos_finding.pk)]
    assert set(ids(api.get("/api/v1/datasets/portraits/findings/"))) == {str(carlas_finding.pk), str(ottos_finding.pk)}
    assert ids(api.get("/api/v1/datasets/portraits/findings/?status=confirmed")) == []
    assert api.get("/api/v1/datasets/landscapes/findings/").json()["code"] == "unknown_dataset"


def test_a_contributor_sees_only_the_findings_on_their_own_images(carlas_finding, ottos_finding, contributor, client_for):
    api = client_for(contributor)

    assert ids(api.get("/api/v1/findings/")) == [str(carlas_finding.pk)]
    assert ids(api.get("/api/v1/datasets/portraits/findings/")) == [str(carlas_finding.pk)]
    assert ids(api.get(f"/api/v1/findings/?asset={ottos_finding.asset_id}")) == []
    # Otto's finding and image do not exist as far as carla can tell.
    assert api.get(f"/api/v1/findings/{ottos_finding.pk}/").json()["code"] == "unknown_finding"
    assert api.get(f"/api/v1/assets/{ottos_finding.asset_id}/findings/").json()["code"] == "unknown_asset"


def test_the_ml_engineer_and_the_outsider_may_not_read_findings(carlas_finding, ml_engineer, outsider, client_for):
    assert client_for(ml_engineer).get("/api/v1/findings/").status_code == 403
    assert client_for(outsider).get(f"/api/v1/findings/{carlas_finding.pk}/").status_code == 403
    assert client_for(None).get("/api/v1/findings/").status_code == 401


# -- resolving -------------------------------------------------------------------------------
def test_dismissing_the_only_open_finding_clears_the_asset(carlas_finding, reviewer, client_for):
    response = client_for(reviewer).post(
        f"/api/v1/findings/{carlas_finding.pk}/resolve/",
        {"decision": "dismiss", "reason": "a scan, not generated"},
        format="json",
    )

    assert response.status_code == 200, response.content[:400]
    body = response.json()
    assert (body["status"], body["resolved_by"], body["resolution_reason"]) == ("dismissed", "rita", "a scan, not generated")
    assert body["asset_status"] == "clear"
    assert Asset.objects.get(pk=carlas_finding.asset_id).status == "clear"


def test_confirming_a_finding_rejects_the_asset(carlas_finding, reviewer, client_for):
    response = client_for(reviewer).post(
        f"/api/v1/findings/{carlas_finding.pk}/resolve/", {"decision": "confirm", "reason": "made by a model"}, format="json"
    )

    assert response.status_code == 200, response.content[:400]
    assert (response.json()["status"], response.json()["asset_status"]) == ("confirmed", "rejected")
    assert Asset.objects.get(pk=carlas_finding.asset_id).status == "rejected"


def test_resolving_a_finding_twice_is_a_409(carlas_finding, reviewer, second_reviewer, client_for):
    url = f"/api/v1/findings/{carlas_finding.pk}/resolve/"
    assert client_for(reviewer).post(url, {"decision": "dismiss", "reason": "fine"}, format="json").status_code == 200

    response = client_for(second_reviewer).post(url, {"decision": "confirm", "reason": "not fine"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "already_resolved"
    assert Finding.objects.get(pk=carlas_finding.pk).status == "dismissed"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"decision": "ignore", "reason": "why not"}, {"decision"}),
        ({"decision": "dismiss"}, {"reason"}),
        ({"decision": "dismiss", "reason": "   "}, {"reason"}),
        ({}, {"decision", "reason"}),
    ],
)
def test_a_malformed_resolution_is_a_400_naming_the_fields(carlas_finding, reviewer, client_for, body, fields):
    response = client_for(reviewer).post(f"/api/v1/findings/{carlas_finding.pk}/resolve/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == fields
    assert Finding.objects.get(pk=carlas_finding.pk).status == "open"


def test_a_resolution_that_is_not_json_is_a_400(carlas_finding, reviewer, client_for):
    response = client_for(reviewer).post(
        f"/api/v1/findings/{carlas_finding.pk}/resolve/", data='{"decision": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error" and "JSON parse error" in response.json()["error"]


def test_an_unknown_finding_is_a_json_404(world, reviewer, client_for):
    missing = uuid.uuid4()
    api = client_for(reviewer)

    for response in (
        api.get(f"/api/v1/findings/{missing}/"),
        api.post(f"/api/v1/findings/{missing}/resolve/", {"decision": "dismiss", "reason": "x"}, format="json"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "unknown_finding"


def test_only_a_reviewer_may_resolve_a_finding(carlas_finding, contributor, operator, client_for):
    url = f"/api/v1/findings/{carlas_finding.pk}/resolve/"
    for user in (contributor, operator):
        assert client_for(user).post(url, {"decision": "dismiss", "reason": "mine"}, format="json").status_code == 403
    assert Finding.objects.get(pk=carlas_finding.pk).status == "open"


# -- requesting an audit ---------------------------------------------------------------------
def test_auditing_a_dataset_queues_only_the_assets_that_need_it(world, contributor, ml_engineer, client_for, settings):
    settings.CLEANROOM_AUDITORS = [SYNTHETIC_AUDITOR]
    fresh = ingest(contributor, world.dataset, world.consent, jpeg("fresh.jpg", seed=21))["accepted"][0]["asset_id"]
    api = client_for(ml_engineer)

    response = api.post("/api/v1/datasets/portraits/audit/")

    # The world's image is already approved (not auditable); the fresh one is queued.
    assert response.status_code == 202
    assert response.json() == {"queued": [fresh]}
    assert Asset.objects.get(pk=fresh).status == "auditing"
    assert api.post("/api/v1/datasets/portraits/audit/").json() == {"queued": []}


def test_auditing_an_unknown_dataset_is_a_404(world, operator, client_for):
    response = client_for(operator).post("/api/v1/datasets/landscapes/audit/")

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_dataset"
