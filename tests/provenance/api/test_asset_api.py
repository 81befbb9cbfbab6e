"""Assets and the audit log through the API: who sees what, and reviewers' decisions."""

from __future__ import annotations

from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from tests.provenance.factories import grant_consent, ingest, jpeg
from tests.support.worlds import World

ASSETS = "/api/v1/assets/"


def test_a_contributor_sees_only_their_own_images(world: World, contributor, other_contributor, client_for) -> None:
    ottos_consent = grant_consent(other_contributor, "otto@example.com", evidence_bytes=b"%PDF otto")
    ottos = ingest(other_contributor, world.dataset, ottos_consent, jpeg("otto.jpg", seed=50))["accepted"][0]

    carla_sees = [row["id"] for row in client_for(contributor).get(ASSETS).json()["results"]]
    otto_sees = [row["id"] for row in client_for(other_contributor).get(ASSETS).json()["results"]]

    assert carla_sees == [str(world.asset.pk)]
    assert otto_sees == [ottos["asset_id"]]
    assert client_for(other_contributor).get(f"{ASSETS}{world.asset.pk}/").status_code == 404


def test_the_outsider_cannot_see_the_contributors_images(world: World, outsider, client_for) -> None:
    assert client_for(outsider).get(ASSETS).status_code == 403
    assert client_for(outsider).get(f"{ASSETS}{world.asset.pk}/").status_code == 403


def test_a_contributor_sees_only_datasets_holding_their_images(world: World, operator, other_contributor, client_for) -> None:
    dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)

    assert [row["slug"] for row in client_for(other_contributor).get("/api/v1/datasets/").json()["results"]] == []
    assert [row["slug"] for row in client_for(operator).get("/api/v1/datasets/").json()["results"]] == [
        "landscapes",
        "portraits",
    ]


def test_the_asset_list_can_be_filtered_by_status(world: World, reviewer, client_for) -> None:
    approved = client_for(reviewer).get(ASSETS, {"status": "approved"}).json()
    flagged = client_for(reviewer).get(ASSETS, {"status": "flagged"}).json()

    assert (approved["count"], flagged["count"]) == (1, 0)


def test_a_reviewer_rejects_an_image_with_a_reason(world: World, reviewer, client_for) -> None:
    response = client_for(reviewer).post(
        f"{ASSETS}{world.asset.pk}/review/", {"decision": "reject", "reason": "a logo is visible"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


def test_a_review_with_an_unknown_decision_or_no_reason_is_a_400(world: World, reviewer, client_for) -> None:
    client = client_for(reviewer)

    unknown = client.post(f"{ASSETS}{world.asset.pk}/review/", {"decision": "maybe", "reason": "hmm"}, format="json")
    no_reason = client.post(f"{ASSETS}{world.asset.pk}/review/", {"decision": "approve"}, format="json")

    assert (unknown.status_code, no_reason.status_code) == (400, 400)
    assert set(unknown.json()["fields"]) == {"decision"}
    assert set(no_reason.json()["fields"]) == {"reason"}


def test_a_withdrawn_image_cannot_be_approved(world: World, contributor, reviewer, client_for) -> None:
    consent_revoke(consent_id=str(world.consent.pk), actor=contributor, reason="withdrawn")

    response = client_for(reviewer).post(
        f"{ASSETS}{world.asset.pk}/review/", {"decision": "approve", "reason": "fine"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"


def test_compliance_reads_the_audit_trail_of_one_subject_page_by_page(world: World, compliance, client_for) -> None:
    client = client_for(compliance)

    page = client.get("/api/v1/audit-events/", {"subject_type": "snapshot", "subject_id": str(world.snapshot.pk), "limit": 1})

    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 2  # created, then submitted for review
    assert [event["event_type"] for event in body["results"]] == ["snapshot.created"]
    assert body["next"] is not None
    second = client.get(body["next"]).json()["results"]
    assert [event["event_type"] for event in second] == ["snapshot.status_changed"]
    assert second[0]["prev_hash"] != second[0]["hash"]


def test_the_audit_chain_verifies_through_the_api(world: World, operator, client_for) -> None:
    response = client_for(operator).get("/api/v1/audit-events/verify/")

    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["first_bad_event"], body["problem"]) == (True, None, None)
    assert body["events"] > 5
