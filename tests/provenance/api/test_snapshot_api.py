"""Snapshots through the API: creation, four-eyes approval, taint and inclusion proofs."""

from __future__ import annotations

import hashlib

import pytest

from core.roles import Role
from core.users import user_add
from provenance.models import Snapshot, SnapshotStatus
from provenance.services.assets import asset_review
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_create
from tests.provenance.factories import grant_consent, image_bytes, ingest, jpeg
from tests.support.worlds import World

SNAPSHOTS = "/api/v1/snapshots/"


def test_an_ml_engineer_freezes_a_dataset_into_a_snapshot_that_waits_for_review(world: World, ml_engineer, client_for) -> None:
    response = client_for(ml_engineer).post(SNAPSHOTS, {"dataset": "portraits"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["asset_count"], body["excluded"]) == ("in_review", 1, [])
    assert Snapshot.objects.get(pk=body["snapshot_id"]).merkle_root == body["merkle_root"]


def test_a_dataset_with_nothing_eligible_cannot_be_snapshotted(operator, ml_engineer, client_for) -> None:
    dataset_create(slug="empty", scopes=["ai_training"], actor=operator)

    response = client_for(ml_engineer).post(SNAPSHOTS, {"dataset": "empty"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "empty_snapshot"


def test_two_distinct_reviewers_approve_a_snapshot(world: World, reviewer, second_reviewer, client_for) -> None:
    url = f"{SNAPSHOTS}{world.snapshot.pk}/approve/"

    first = client_for(reviewer).post(url)
    second = client_for(second_reviewer).post(url)

    assert first.json() == {"snapshot_id": str(world.snapshot.pk), "status": "in_review", "approvals": ["rita"]}
    assert second.json()["status"] == "approved"
    detail = client_for(reviewer).get(f"{SNAPSHOTS}{world.snapshot.pk}/").json()
    assert (detail["status"], detail["approvals"]) == ("approved", ["rita", "ravi"])


def test_the_same_reviewer_approving_twice_is_refused_with_a_409(world: World, reviewer, client_for) -> None:
    client = client_for(reviewer)

    client.post(f"{SNAPSHOTS}{world.snapshot.pk}/approve/")
    again = client.post(f"{SNAPSHOTS}{world.snapshot.pk}/approve/")

    assert again.status_code == 409
    assert again.json()["code"] == "already_approved_by_you"
    world.snapshot.refresh_from_db()
    assert world.snapshot.status == SnapshotStatus.IN_REVIEW


def test_approving_a_tainted_snapshot_is_refused_with_a_409(world: World, contributor, reviewer, client_for) -> None:
    consent_revoke(consent_id=str(world.consent.pk), actor=contributor, reason="withdrawn")

    response = client_for(reviewer).post(f"{SNAPSHOTS}{world.snapshot.pk}/approve/")

    assert response.status_code == 409
    assert response.json()["code"] == "snapshot_tainted"


def test_the_person_who_built_a_snapshot_cannot_approve_it(world: World, client_for) -> None:
    builder = user_add(username="bea", role=Role.ML_ENGINEER)
    user_add(username="bea", role=Role.REVIEWER)
    created = client_for(builder).post(SNAPSHOTS, {"dataset": "portraits"}, format="json").json()

    response = client_for(builder).post(f"{SNAPSHOTS}{created['snapshot_id']}/approve/")

    assert response.status_code == 403


def test_a_rejection_needs_a_reason(world: World, reviewer, client_for) -> None:
    url = f"{SNAPSHOTS}{world.snapshot.pk}/reject/"

    missing = client_for(reviewer).post(url, {}, format="json")
    rejected = client_for(reviewer).post(url, {"reason": "a flagged image slipped in"}, format="json")

    assert (missing.status_code, rejected.status_code) == (400, 200)
    assert rejected.json()["status"] == "rejected"


def _fold(leaf_hash: str, proof: list[dict]) -> str:
    """RFC 9162 §2.1: node = SHA-256(0x01 || left || right), written out independently here."""
    node = bytes.fromhex(leaf_hash)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        pair = sibling + node if step["side"] == "left" else node + sibling
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node.hex()


@pytest.fixture
def five_image_snapshot(contributor, reviewer, operator, ml_engineer) -> Snapshot:
    dataset = dataset_create(slug="five", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    result = ingest(contributor, dataset, consent, *(jpeg(f"{seed}.jpg", seed=seed) for seed in range(100, 105)))
    for row in result["accepted"]:
        asset_review(asset_id=row["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    return snapshot_create(dataset_slug="five", actor=ml_engineer)


def test_an_uploaded_image_gets_a_proof_whose_folding_gives_the_merkle_root(five_image_snapshot, compliance, client_for) -> None:
    picture = image_bytes(103)

    response = client_for(compliance).post(
        f"{SNAPSHOTS}{five_image_snapshot.pk}/prove/", {"file": jpeg("mine.jpg", seed=103)}, format="multipart"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["included"] is True
    assert body["sha256"] == hashlib.sha256(picture).hexdigest()
    assert body["leaf_hash"] == hashlib.sha256(b"\x00" + body["leaf"].encode("ascii")).hexdigest()
    assert len(body["proof"]) >= 2
    assert _fold(body["leaf_hash"], body["proof"]) == body["merkle_root"] == five_image_snapshot.merkle_root


def test_an_image_outside_the_snapshot_is_reported_as_not_included(five_image_snapshot, ml_engineer, client_for) -> None:
    response = client_for(ml_engineer).post(f"{SNAPSHOTS}{five_image_snapshot.pk}/prove/", {"sha256": "AB" * 32}, format="json")

    assert response.status_code == 200
    assert (response.json()["included"], response.json()["proof"]) == (False, [])


@pytest.mark.parametrize(
    "body",
    [
        lambda: {},
        lambda: {"sha256": "not-a-digest"},
        lambda: {"sha256": "ab" * 32, "file": jpeg("mine.jpg", seed=1)},
    ],
    ids=["neither", "a malformed digest", "both a digest and a file"],
)
def test_a_proof_request_must_name_exactly_one_image(world: World, ml_engineer, client_for, body) -> None:
    response = client_for(ml_engineer).post(f"{SNAPSHOTS}{world.snapshot.pk}/prove/", body(), format="multipart")

    assert response.status_code == 400
    assert response.json()


def test_the_api_and_the_cli_give_the_same_answer_to_an_approval(world: World, reviewer, second_reviewer, client_for) -> None:
    """One output serializer per resource: the API and `snapshot approve --json` cannot drift."""
    import io
    import json

    from django.core.management import call_command

    by_api = client_for(reviewer).post(f"{SNAPSHOTS}{world.snapshot.pk}/approve/").json()
    out = io.StringIO()
    call_command("snapshot", "approve", str(world.snapshot.pk), "--as", second_reviewer.username, "--json", stdout=out)
    by_cli = json.loads(out.getvalue())

    assert by_api == {"snapshot_id": str(world.snapshot.pk), "status": "in_review", "approvals": ["rita"]}
    assert by_cli == {"snapshot_id": str(world.snapshot.pk), "status": "approved", "approvals": ["rita", "ravi"]}
