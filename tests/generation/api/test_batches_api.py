"""The batch API: a product team submits many prompts at once and follows the batch's progress;
who may see a batch is who may see its jobs. The batch is run in the test by the same service
the `gpu` worker's `generation.run_batch` calls."""

from __future__ import annotations

import pytest

from core.audit import audit_events
from core.models import EventType
from generation.models import GenerationBatch, GenerationJob
from generation.services.pipeline import batch_run
from tests.core.factories import user_with_role
from tests.generation.factories import FAST, SIZE

pytestmark = pytest.mark.slow
BATCHES = "/api/v1/generation/batches/"


def submit(client, world, prompts: list[str], **fields):
    body = {"model": str(world.model.pk), "prompts": prompts, "width": SIZE, "height": SIZE, **FAST, **fields}
    return client.post(BATCHES, body, format="json")


@pytest.fixture
def other_product(db):
    return user_with_role("pete", "product")


def test_a_product_team_submits_a_batch_and_follows_its_progress(
    transactional_db, world, product, other_product, operator, compliance, ml_engineer, outsider, client_for
):
    submitted = submit(client_for(product), world, ["a lighthouse", "a harbour"], seed=5)

    assert submitted.status_code == 202, submitted.content[:400]
    body = submitted.json()
    assert submitted["Location"] == f"{BATCHES}{body['batch_id']}/"
    assert body["progress"] == {"total": 2, "finished": 0, "counts": {"queued": 2}} and body["requester"] == "pia"
    assert [(j["parameters"]["prompt"], j["seed"], j["status"]) for j in body["jobs"]] == [
        ("a lighthouse", 5, "queued"), ("a harbour", 6, "queued"),
    ]  # fmt: skip
    batch = GenerationBatch.objects.get(pk=body["batch_id"])
    batch_run(batch_id=str(batch.pk), task_id=batch.task_id)

    polled = client_for(product).get(f"{BATCHES}{batch.pk}/").json()
    assert polled["progress"] == {"total": 2, "finished": 2, "counts": {"succeeded": 2}}
    assert all(j["output"]["released"] and j["output"]["sha256"] for j in polled["jobs"])
    expected = {None: 401, outsider: 403, ml_engineer: 403, other_product: 404, product: 200, operator: 200, compliance: 200}
    for user, status in expected.items():
        assert client_for(user).get(f"{BATCHES}{batch.pk}/").status_code == status, user


def test_only_product_teams_may_submit_a_batch(world, operator, ml_engineer, compliance, outsider, client_for):
    for user, status in {None: 401, outsider: 403, ml_engineer: 403, operator: 403, compliance: 403}.items():
        assert submit(client_for(user), world, ["a kite"]).status_code == status
    assert not GenerationBatch.objects.exists()


def test_a_bad_prompt_refuses_the_batch_with_its_index_and_leaves_nothing(world, product, client_for):
    response = submit(client_for(product), world, ["a kite", "a boat", ""])

    assert (response.status_code, response.json()["code"], response.json()["prompt_index"]) == (400, "prompt_required", 2)
    assert response.json()["error"].startswith("prompt 2: ")
    assert not GenerationBatch.objects.exists() and not GenerationJob.objects.exists()
    assert not audit_events(event_type=EventType.GENERATION_REQUESTED)
    assert [e.details["code"] for e in audit_events(event_type=EventType.GENERATION_REFUSED)] == ["prompt_required"]


def test_the_schema_describes_the_batch_endpoints(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    assert {BATCHES, f"{BATCHES}{{id}}/"} <= set(schema["paths"])
    created = schema["paths"][BATCHES]["post"]
    assert "202" in created["responses"] and "application/json" in created["requestBody"]["content"]
