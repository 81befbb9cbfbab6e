"""The CUDA path, on a machine that has a GPU (marker `gpu`; skipped where torch sees no CUDA
device): one real job's inference on the GPU and its release stage, then a batch through the
worker's pipeline, through the same services as on the CPU."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob, JobStatus
from generation.selectors import output_file
from generation.services.batches import generation_batch_request
from generation.services.execution import job_run
from generation.services.inference import pipelines_for
from generation.services.pipeline import batch_run
from provenance.c2pa.manifests import read_manifest
from tests.generation.factories import FAST, SIZE, requested_job


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device"),
]


@pytest.fixture
def on_cuda(settings):
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cuda"}


def test_a_job_runs_its_inference_on_the_gpu_and_releases_a_trusted_output(transactional_db, world, product, on_cuda):
    job = requested_job(world.model, product, kind="text_to_image", seed=3)

    assert job_run(job_id=str(job.pk), task_id=job.task_id) == JobStatus.SUCCEEDED, GenerationJob.objects.get(pk=job.pk).error

    job = GenerationJob.objects.select_related("output").get(pk=job.pk)
    assert job.device == "cuda" and pipelines_for(world.model, "cuda")["text"].device.type == "cuda"
    assert read_manifest(output_file(job.output), "image/png").trusted


def test_a_batch_runs_through_the_pipeline_on_the_gpu(transactional_db, world, product, on_cuda):
    batch = generation_batch_request(
        model_id=world.model.pk, prompts=["a kite", "a boat"], parameters={"width": SIZE, "height": SIZE, **FAST}, actor=product
    )

    results = batch_run(batch_id=str(batch.pk), task_id=batch.task_id)

    assert set(results.values()) == {JobStatus.SUCCEEDED}
    assert set(GenerationJob.objects.filter(batch=batch).values_list("device", flat=True)) == {"cuda"}
