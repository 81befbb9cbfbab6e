"""Batch requests through the service: one job per prompt, each requested and audited as a
single job is; a refused prompt refuses the whole batch and leaves nothing behind."""

from __future__ import annotations

import pytest

from core.audit import audit_events
from core.exceptions import ApplicationError
from core.models import EventType
from generation.models import GenerationBatch, GenerationJob, JobStatus
from generation.services.batches import batch_job_task_id, generation_batch_request
from provenance.services.consent import consent_revoke
from tests.generation.factories import FAST, SIZE

pytestmark = pytest.mark.slow
SHARED = {"width": SIZE, "height": SIZE, **FAST}


def refusals() -> list:
    return list(audit_events(event_type=EventType.GENERATION_REFUSED))


def test_a_batch_queues_one_job_per_prompt_with_consecutive_seeds_each_audited(world, product):
    batch = generation_batch_request(
        model_id=world.model.pk, prompts=["a red apple", "a green pear", "a plum"], parameters=SHARED, seed=10, actor=product
    )

    jobs = list(GenerationJob.objects.filter(batch=batch).order_by("batch_index"))
    assert [(j.batch_index, j.seed, j.parameters["prompt"], j.status) for j in jobs] == [
        (0, 10, "a red apple", JobStatus.QUEUED), (1, 11, "a green pear", JobStatus.QUEUED), (2, 12, "a plum", JobStatus.QUEUED),
    ]  # fmt: skip
    assert all(j.requester == product and j.kind == "text_to_image" and j.parameters["width"] == SIZE for j in jobs)
    assert [j.task_id for j in jobs] == [batch_job_task_id(batch.task_id, k) for k in range(3)]
    requested = audit_events(event_type=EventType.GENERATION_REQUESTED)
    assert sorted(e.subject_id for e in requested) == sorted(str(j.pk) for j in jobs)
    assert {(e.actor, e.details["batch_id"]) for e in requested} == {("pia", str(batch.pk))}


def test_a_batch_without_a_seed_gives_each_job_a_random_seed_of_its_own(world, product):
    batch = generation_batch_request(model_id=world.model.pk, prompts=["a kite"] * 4, parameters=SHARED, actor=product)

    assert len(set(GenerationJob.objects.filter(batch=batch).values_list("seed", flat=True))) == 4


def test_a_bad_prompt_refuses_the_whole_batch_names_it_and_leaves_nothing(world, product):
    with pytest.raises(ApplicationError) as refused:
        generation_batch_request(model_id=world.model.pk, prompts=["a kite", "   ", "a boat"], parameters=SHARED, actor=product)

    assert refused.value.code == "prompt_required" and refused.value.message.startswith("prompt 1: ")
    assert refused.value.extra["prompt_index"] == 1
    assert not GenerationBatch.objects.exists() and not GenerationJob.objects.exists()
    assert not audit_events(event_type=EventType.GENERATION_REQUESTED)
    [event] = refusals()
    assert (event.actor, event.details["code"]) == ("pia", "prompt_required") and "prompt 1" in event.details["reason"]


def test_a_tainted_model_refuses_the_batch(world, product, contributor):
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="I changed my mind")

    with pytest.raises(ApplicationError) as refused:
        generation_batch_request(model_id=world.model.pk, prompts=["a kite"], parameters=SHARED, actor=product)

    assert refused.value.code == "snapshot_tainted" and not GenerationJob.objects.exists()
    assert [e.details["code"] for e in refusals()] == ["snapshot_tainted"]


def test_a_batch_past_the_limit_and_an_empty_one_are_refused(world, product, settings):
    settings.CLEANROOM_GENERATION_MAX_BATCH = 2

    for prompts in (["a", "b", "c"], []):
        with pytest.raises(ApplicationError) as refused:
            generation_batch_request(model_id=world.model.pk, prompts=prompts, parameters=SHARED, actor=product)
        assert refused.value.code == "invalid_batch"
    assert not GenerationBatch.objects.exists() and len(refusals()) == 2


def test_only_a_product_team_may_request_a_batch(world, ml_engineer):
    with pytest.raises(ApplicationError) as refused:
        generation_batch_request(model_id=world.model.pk, prompts=["a kite"], parameters=SHARED, actor=ml_engineer)

    assert refused.value.status == 403 and not GenerationJob.objects.exists()
