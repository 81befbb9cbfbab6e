"""The training REST API: ML engineers request and follow runs; reviewers approve base models;
product teams see models and whether each may still generate; everyone else gets 403."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from provenance.services.consent import consent_revoke
from training.models import ModelArtifact, TrainingRun
from training.services import base_model_register, training_execute, training_request

RUNS = "/api/v1/training-runs/"
BASE_MODELS = "/api/v1/base-models/"
MODELS = "/api/v1/models/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for():
    def login(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return login


def test_an_ml_engineer_requests_a_run_that_is_enqueued_after_commit(
    governed, base_model, ml_engineer, client_for, django_capture_on_commit_callbacks
):
    body = {"snapshot_id": str(governed.snapshot.pk), "base_model_id": str(base_model.pk), "steps": 2, "seed": 4, "rank": 2}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(ml_engineer).post(RUNS, body, format="json")
    assert response.status_code == 202, response.json()
    run = response.json()
    assert (run["status"], run["steps"], run["seed"], run["config"]["rank"], run["requested_by"]) == ("queued", 2, 4, 2, "mel")
    assert len(callbacks) == 1  # the task goes to the broker only once the run is committed
    assert TrainingRun.objects.get(pk=run["id"]).task_id


@pytest.mark.parametrize("persona", ["reviewer", "compliance", "operator", "product", "outsider"])
def test_only_ml_engineers_request_runs(governed, base_model, personas, persona, client_for):
    body = {"snapshot_id": str(governed.snapshot.pk), "base_model_id": str(base_model.pk)}
    assert client_for(personas[persona]).post(RUNS, body, format="json").status_code == 403
    assert client_for(None).post(RUNS, body, format="json").status_code == 401
    assert not TrainingRun.objects.exists()


def test_a_refused_request_answers_409_with_the_code_and_creates_no_run(governed, base_model, ml_engineer, operator, client_for):
    consent_revoke(consent_id=str(governed.consent.pk), actor=operator, reason="revoked")
    body = {"snapshot_id": str(governed.snapshot.pk), "base_model_id": str(base_model.pk)}
    response = client_for(ml_engineer).post(RUNS, body, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "snapshot_tainted")
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("persona, allowed", [
    ("ml_engineer", True), ("compliance", True), ("operator", True), ("reviewer", False), ("product", False), ("outsider", False),
])  # fmt: skip
def test_runs_are_readable_by_ml_engineers_compliance_and_operators(
    governed, base_model, personas, persona, allowed, client_for, pki
):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, seed=1)
    training_execute(run_id=run.pk)
    client = client_for(personas[persona])
    listing, detail = client.get(RUNS), client.get(f"{RUNS}{run.pk}/")
    if not allowed:
        assert (listing.status_code, detail.status_code) == (403, 403)
        return
    [row] = listing.json()["results"]
    assert row["id"] == str(run.pk) and "loss_curve" not in row
    body = detail.json()
    artifact = ModelArtifact.objects.get(training_run=run)
    assert (body["status"], body["progress"], len(body["loss_curve"])) == ("succeeded", 1.0, 2)
    assert body["model"] == {
        "id": str(artifact.pk),
        "sha256": artifact.sha256,
        "container_sha256": artifact.container_sha256,
        "ingredient_archive_sha256": artifact.ingredient_archive_sha256,
    }
    assert set(body["library_versions"]) >= {"torch", "diffusers", "peft", "accelerate", "transformers"}


def test_a_queued_run_is_cancelled_once(governed, base_model, ml_engineer, client_for):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2)
    client = client_for(ml_engineer)
    first, again = client.post(f"{RUNS}{run.pk}/cancel/"), client.post(f"{RUNS}{run.pk}/cancel/")
    assert (first.status_code, first.json()["status"]) == (200, "cancelled")
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")


def test_reviewers_approve_base_models_through_the_api(
    tiny_model_dir, ml_engineer, reviewer, second_reviewer, product, client_for
):
    base_model_id = base_model_register(directory=tiny_model_dir, name="tiny", licence="MIT", actor=ml_engineer).pk
    assert client_for(ml_engineer).post(f"{BASE_MODELS}{base_model_id}/approve/").status_code == 403
    assert client_for(reviewer).post(f"{BASE_MODELS}{base_model_id}/approve/").json()["approvals"] == ["rita"]
    assert client_for(second_reviewer).post(f"{BASE_MODELS}{base_model_id}/approve/").json()["status"] == "approved"
    detail = client_for(reviewer).get(f"{BASE_MODELS}{base_model_id}/").json()
    assert (detail["status"], detail["approvals"], detail["registered_by"]) == ("approved", ["rita", "ravi"], "mel")
    assert {f["path"] for f in detail["files"]} >= {"model_index.json", "unet/diffusion_pytorch_model.safetensors"}
    assert client_for(product).get(BASE_MODELS).status_code == 403


def test_product_teams_see_models_and_why_one_may_no_longer_generate(
    governed, base_model, product, outsider, operator, client_for, pki
):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=1, seed=1)
    model_id = str(training_execute(run_id=run.pk).artifact.pk)
    client = client_for(product)
    [row] = client.get(MODELS).json()["results"]
    assert (row["id"], row["refusal"]) == (model_id, None)
    consent_revoke(consent_id=str(governed.consent.pk), actor=operator, reason="revoked")
    assert client.get(f"{MODELS}{model_id}/").json()["refusal"]["code"] == "snapshot_tainted"
    assert client_for(outsider).get(MODELS).status_code == 403


def test_a_page_of_models_costs_the_same_queries_whatever_its_length(
    governed, base_model, product, client_for, pki, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=1, seed=1)
    trained = training_execute(run_id=run.pk).artifact
    client = client_for(product)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(MODELS).json()["results"]) == 1
    # More models of the same lineage, written as rows: the test is about reading them.
    for seed in range(2, 12):
        twin = TrainingRun.objects.create(snapshot=governed.snapshot, base_model=base_model, steps=1, seed=seed, config={})
        ModelArtifact.objects.create(
            training_run=twin, snapshot=governed.snapshot, base_model=base_model, sha256=f"{seed:064x}", size=1,
            container_sha256=trained.container_sha256, ingredient_archive_sha256=trained.ingredient_archive_sha256,
        )  # fmt: skip

    with django_assert_max_num_queries(len(one)):
        rows = client.get(MODELS).json()["results"]

    assert len(rows) == 11 and all(row["refusal"] is None for row in rows)
