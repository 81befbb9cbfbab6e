"""`generate` without a size makes the model's native size (the tiny model: 64×64, as diffusers
would), not a fixed 512×512; a size far above it is made, with a warning on the job's record."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.audit import audit_events
from core.models import EventType
from core.storage import blob_open
from generation.api.serializers import JobSerializer
from generation.models import GenerationJob, JobStatus
from generation.services.execution import job_run
from generation.services.requests import generation_request
from tests.generation.factories import FAST

pytestmark = pytest.mark.slow


def test_a_request_without_a_size_gets_the_models_native_size(world, product):
    parameters = {"prompt": "p", **FAST}
    job = generation_request(model_id=world.model.pk, kind="text_to_image", parameters=parameters, seed=1, actor=product)

    assert (job.parameters["width"], job.parameters["height"], job.warnings) == (64, 64, [])
    assert job_run(job_id=str(job.pk), task_id=job.task_id) == JobStatus.SUCCEEDED
    output = GenerationJob.objects.select_related("output").get(pk=job.pk).output
    with blob_open(output.sha256) as handle:
        assert Image.open(io.BytesIO(handle.read())).size == (64, 64)


def test_a_size_far_above_the_native_one_is_accepted_with_a_warning_on_the_record(world, product):
    job = generation_request(
        model_id=world.model.pk,
        kind="text_to_image",
        parameters={"prompt": "p", "width": 256, "height": 128, **FAST},
        seed=1,
        actor=product,
    )

    warning = "256×128 is more than 2× the model's native 64×64 per side: slow, and rarely a coherent picture"
    assert job.warnings == [warning] and JobSerializer(job).data["warnings"] == [warning]
    [event] = audit_events(event_type=EventType.GENERATION_REQUESTED)
    assert event.details["warnings"] == [warning] and event.details["parameters"]["width"] == 256
