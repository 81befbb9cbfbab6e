"""The output registry's persistent index: filled after commit, read back after a restart, rebuilt
from the database when its file is missing or corrupt."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageOps

from auditing.similarity.near_duplicate import NearDuplicateIndex
from generation.models import GenerationJob, Output
from generation.output_index import (
    output_fingerprints,
    output_index,
    output_index_forget,
    output_index_path,
    output_index_search,
)
from generation.selectors import output_file
from generation.services.execution import job_run
from generation.services.requests import generation_request
from tests.generation.factories import FAST, SIZE

pytestmark = pytest.mark.slow


def released(world, product, django_capture_on_commit_callbacks, seed: int) -> str:
    job = generation_request(
        model_id=world.model.pk, kind="text_to_image", parameters={"prompt": "a harbour", "width": SIZE, "height": SIZE, **FAST},
        seed=seed, actor=product,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert job_run(job_id=str(job.pk), task_id=job.task_id) == "succeeded"
    return str(GenerationJob.objects.get(pk=job.pk).output.pk)


def test_a_released_output_joins_the_saved_index_which_survives_a_restart_and_corruption(
    world, product, django_capture_on_commit_callbacks
):
    output_id = released(world, product, django_capture_on_commit_callbacks, seed=1)
    path = output_index_path()
    assert set(NearDuplicateIndex.load(path).keys()) == {output_id}

    before = os.stat(path)
    output_index_forget()
    assert set(output_index().keys()) == {output_id}
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns  # read back, not rebuilt

    path.write_bytes(b"CRNDIDX\0 garbage")
    output_index_forget()
    assert set(output_index().keys()) == {output_id}

    flipped = ImageOps.mirror(Image.open(io.BytesIO(output_file(Output.objects.get(pk=output_id)))).convert("RGB"))
    [(found, match)] = output_index_search(flipped)
    assert found == output_id and "flip" in match.transforms


def test_above_its_threshold_the_registry_is_compact_saved_read_back_and_still_finds_a_copy(
    world, product, django_capture_on_commit_callbacks, settings
):
    settings.CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD = 0
    output_id = released(world, product, django_capture_on_commit_callbacks, seed=2)
    path = output_index_path()
    assert output_index().compact and set(output_index().keys()) == {output_id}

    before = os.stat(path)
    output_index_forget()
    assert output_index().compact and set(output_index().keys()) == {output_id}
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns  # read back, not rebuilt

    path.write_bytes(b"CRNDCMP\0 garbage")
    output_index_forget()
    assert output_index().compact and set(output_index().keys()) == {output_id}

    image = Image.open(io.BytesIO(output_file(Output.objects.get(pk=output_id)))).convert("RGB")
    [(found, match)] = output_index_search(ImageOps.mirror(image))
    assert found == output_id and "flip" in match.transforms
    assert output_index_search(Image.new("RGB", (SIZE, SIZE), (40, 90, 200))) == []


def test_the_registry_verifies_compact_candidates_against_the_stored_fingerprints(
    world, product, django_capture_on_commit_callbacks
):
    output_id = released(world, product, django_capture_on_commit_callbacks, seed=3)

    assert set(output_fingerprints([output_id, "00000000-0000-0000-0000-000000000000"])) == {output_id}
    assert output_fingerprints([output_id])[output_id] == output_index().fingerprint(output_id)
