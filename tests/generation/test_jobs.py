"""Generation jobs through the services: requests and their refusals, runs, moderation, release.

Every job runs the real chain on the CPU: the tiny model (LoRA trained on the world's
snapshot) → NudeNet → the watermark → the fingerprint registry → a C2PA signature.
"""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from skimage import data as samples

from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError
from core.models import EventType
from core.storage import blob_open
from generation.models import GenerationJob, JobStatus, Output, OutputFingerprint
from generation.output_index import output_index_search
from generation.selectors import output_by_watermark_id, output_file
from generation.services.bindings import FINGERPRINT_ALGORITHM
from generation.services.execution import job_run
from generation.services.requests import generation_cancel, generation_request, job_claim
from provenance.c2pa.manifests import chain, read_manifest
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from tests.generation.factories import FAST, SIZE, astronaut, corner_mask, png
from tests.provenance.factories import grant_consent, ingest

pytestmark = pytest.mark.slow


def text_job(world, actor, **parameters) -> GenerationJob:
    return generation_request(
        model_id=world.model.pk,
        kind="text_to_image",
        parameters={"prompt": "a red apple on a table", "width": SIZE, "height": SIZE, **FAST, **parameters},
        seed=42,
        actor=actor,
    )


def run(job: GenerationJob) -> GenerationJob:
    job_run(job_id=str(job.pk), task_id=job.task_id)
    return GenerationJob.objects.select_related("output").get(pk=job.pk)


def assertions_of(reading) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for assertion in reading.active_manifest["assertions"]:
        found.setdefault(assertion["label"], []).append(assertion["data"])
    return found


def inpaint_job(world, actor, *, prompt: str, seed: int = 5) -> GenerationJob:
    return generation_request(
        model_id=world.model.pk, kind="inpaint", parameters={"prompt": prompt, **FAST}, seed=seed,
        image=png(astronaut()), mask=png(corner_mask()), actor=actor,
    )  # fmt: skip


def soft_bindings(found: dict[str, list[dict]]) -> dict[str, str]:
    return {b["alg"]: base64.b64decode(b["blocks"][0]["value"]).decode() for b in found["c2pa.soft-binding"]}


def refusals(code: str) -> list:
    return [event for event in audit_events(event_type=EventType.GENERATION_REFUSED) if event.details["code"] == code]


# -- a released output ---------------------------------------------------------------------------
def test_a_text_to_image_job_releases_a_signed_png_with_its_lineage(world, product):
    job = text_job(world, product)
    assert (job.status, job.requester, job.seed, job.parameters["steps"]) == (JobStatus.QUEUED, product, 42, 2)
    assert [e.subject_id for e in audit_events(event_type=EventType.GENERATION_REQUESTED)] == [str(job.pk)]

    job = run(job)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert set(job.stage_ms) == {"load", "inference", "moderation", "watermark", "fingerprint", "sign"}
    assert job.started_at <= job.finished_at and job.device == "cpu"
    output = job.output
    data = output_file(output)
    assert output.released and (output.width, output.height, output.mime_type) == (SIZE, SIZE, "image/png")
    assert output.moderation["flagged"] is False and output.moderation["detector"] == "nudenet"
    with blob_open(output.sha256) as handle:
        assert handle.read() == data
    image = Image.open(io.BytesIO(data))
    assert image.size == (SIZE, SIZE)

    reading = read_manifest(data, "image/png")
    assert reading.trusted, (reading.state, reading.errors)
    assert output.manifest_label == reading.active_label
    found = assertions_of(reading)
    [actions] = found["c2pa.actions.v2"]
    assert [(a["action"], a["digitalSourceType"].rsplit("/", 1)[-1]) for a in actions["actions"]] == [
        ("c2pa.created", "trainedAlgorithmicMedia")
    ]
    [lineage] = found["org.cleanroom.lineage"]
    model, snapshot, base = world.model, world.snapshot, world.model.base_model
    assert lineage == {
        "output_id": str(output.pk), "watermark_id": None, "job_id": str(job.pk), "kind": "text_to_image",
        "model_id": str(model.pk), "model_sha256": model.sha256, "model_container_sha256": model.container_sha256,
        "base_model_id": str(base.pk), "base_model_name": "tiny-sd", "base_model_sha256": base.sha256,
        "snapshot_id": str(snapshot.pk), "merkle_root": snapshot.merkle_root,
    }  # fmt: skip
    [mining] = found["cawg.training-mining"]
    assert {entry: use["use"] for entry, use in mining["entries"].items()} == {
        "cawg.ai_training": "notAllowed", "cawg.ai_generative_training": "notAllowed",
        "cawg.ai_inference": "notAllowed", "cawg.data_mining": "notAllowed",
    }  # fmt: skip
    # The model's manifest, and the snapshot's inside it, are nested in the image.
    nodes = chain(reading)
    assert any(node["relationship"] == "inputTo" and "c2pa.types.model" in node["data_types"] for node in nodes)
    assert any("c2pa.types.dataset" in node["data_types"] for node in nodes)

    # The untrained tiny model paints pixel noise, which cannot carry the watermark: that is
    # recorded, and the fingerprint is the output's only soft binding, the only one named.
    assert not output.watermark_embedded and "not watermarked" in output.watermark_note
    assert soft_bindings(found) == {FINGERPRINT_ALGORITHM: str(output.pk)}
    assert OutputFingerprint.objects.filter(output=output).exists()
    assert [key for key, _ in output_index_search(image)] == [str(output.pk)]
    [released] = audit_events(event_type=EventType.OUTPUT_RELEASED)
    assert (released.subject_id, released.details["sha256"]) == (str(output.pk), output.sha256)
    assert auditlog_verify().valid


def test_an_output_with_texture_carries_the_watermark_and_a_stripped_copy_is_traced_both_ways(world, product):
    from generation.watermark import WATERMARK_ALGORITHM, detect_watermark

    # Inpainting a corner of a photo: the released image is mostly the photo, which carries it.
    job = run(inpaint_job(world, product, prompt="a small red kite"))
    output = job.output
    assert job.status == JobStatus.SUCCEEDED and output.watermark_embedded, output.watermark_note
    data = output_file(output)
    found = assertions_of(read_manifest(data, "image/png"))
    assert found["org.cleanroom.lineage"][0]["watermark_id"] == output.watermark_id
    assert soft_bindings(found) == {WATERMARK_ALGORITHM: str(output.watermark_id), FINGERPRINT_ALGORITHM: str(output.pk)}
    assert detect_watermark(Image.open(io.BytesIO(data))).payload == output.watermark_id

    # A Pillow re-save strips the manifest; both bindings still find the output.
    resaved = io.BytesIO()
    Image.open(io.BytesIO(data)).save(resaved, "PNG")
    assert read_manifest(resaved.getvalue(), "image/png").found is False
    stripped = Image.open(resaved)
    assert output_by_watermark_id(detect_watermark(stripped).payload) == output
    assert [key for key, _ in output_index_search(stripped)] == [str(output.pk)]
    # Re-encoded as JPEG q75 and halved, the fingerprint still does.
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").resize((SIZE // 2, SIZE // 2)).save(jpeg, "JPEG", quality=75)
    assert [key for key, _ in output_index_search(Image.open(jpeg))] == [str(output.pk)]
    assert detect_watermark(Image.fromarray(samples.coffee())) is None
    assert output_index_search(Image.fromarray(samples.coffee())) == []


def test_our_own_output_is_refused_by_ingest_as_opted_out_of_training(world, product, contributor, operator):
    data = output_file(run(text_job(world, product)).output)
    dataset = dataset_create(slug="more", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com", evidence_bytes=b"%PDF another form")

    result = ingest(contributor, dataset, consent, SimpleUploadedFile("generated.png", data, "image/png"))

    assert result["accepted"] == [] and [row["reason"] for row in result["refused"]] == ["optout"]


@pytest.mark.parametrize("kind", ["image_to_image", "upscale"])
def test_image_to_image_and_upscaling_release_an_output_of_the_expected_size(world, product, kind):
    source = png(astronaut(128 if kind == "upscale" else SIZE))
    parameters = (
        {"prompt": "a portrait", **FAST, "strength": 0.5} if kind == "image_to_image" else {"scale": 2, **FAST, "strength": 0.5}
    )

    job = run(generation_request(model_id=world.model.pk, kind=kind, parameters=parameters, seed=3, image=source, actor=product))

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.output.width, job.output.height) == (SIZE, SIZE)
    with blob_open(job.input_sha256) as handle:
        assert handle.read() == source


def test_inpainting_repaints_only_the_masked_region(world, product):
    from generation.services.inference import generate, pipelines_for

    source, mask = astronaut(), corner_mask()
    job = generation_request(
        model_id=world.model.pk, kind="inpaint", parameters={"prompt": "a blue sky", **FAST}, seed=5,
        image=png(source), mask=png(mask), actor=product,
    )  # fmt: skip

    painted = generate(job, pipelines_for(world.model, "cpu"))

    keep = Image.new("L", mask.size, 0)
    keep.paste(255, mask=Image.eval(mask, lambda v: 255 - v))
    outside = [(x, y) for x in range(0, SIZE, 7) for y in range(0, SIZE, 7) if keep.getpixel((x, y))]
    assert all(painted.getpixel(p) == source.getpixel(p) for p in outside)
    assert any(painted.getpixel((x, y)) != source.getpixel((x, y)) for x in range(0, 32, 2) for y in range(224, 256, 2))


# -- moderation ----------------------------------------------------------------------------------
def test_a_flagged_output_is_withheld_recorded_and_never_stored_or_returned(world, product, settings, tmp_path):
    # The policy counts faces as a flag, and the inpainted image keeps the astronaut's face:
    # NudeNet really sees it (FACE_FEMALE ~0.77 at 256²), nothing about the verdict is faked.
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet", "LABELS": ["FACE_FEMALE", "FACE_MALE"], "THRESHOLD": 0.5}
    job = inpaint_job(world, product, prompt="a helmet", seed=9)
    blobs_before = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())

    job = run(job)

    assert job.status == JobStatus.WITHHELD and "FACE_FEMALE" in job.status_reason
    output = Output.objects.get(job=job)
    assert not output.released and output.sha256 == "" and output.watermark_id is None
    assert output.moderation["flagged"] is True and output.moderation["score"] >= 0.5
    assert "FACE_FEMALE" in output.withheld_reason
    with pytest.raises(ApplicationError) as refused:
        output_file(output)
    assert refused.value.code == "output_withheld" and refused.value.status == 409
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == blobs_before
    assert not OutputFingerprint.objects.exists()
    [withheld] = audit_events(event_type=EventType.OUTPUT_WITHHELD)
    assert withheld.subject_id == str(output.pk) and withheld.details["moderation"]["flagged"] is True


# -- refusals ------------------------------------------------------------------------------------
def test_a_model_whose_snapshot_was_tainted_after_training_is_refused(world, product, contributor):
    revoked = consent_revoke(consent_id=world.consent_id, actor=contributor, reason="I changed my mind")
    assert str(world.snapshot.pk) in revoked.tainted_snapshots

    with pytest.raises(ApplicationError) as refused:
        text_job(world, product)

    assert refused.value.code == "snapshot_tainted"
    assert not GenerationJob.objects.exists()
    [event] = refusals("snapshot_tainted")
    assert (event.actor, event.subject_id) == ("pia", str(world.model.pk))


def test_a_job_queued_before_the_snapshot_was_tainted_fails_when_it_runs(world, product, contributor):
    job = text_job(world, product)
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="withdrawn")

    job = run(job)

    assert job.status == JobStatus.FAILED and job.error.startswith("snapshot_tainted")
    assert not Output.objects.exists()
    [event] = refusals("snapshot_tainted")
    assert (event.subject_type, event.subject_id, event.actor) == ("generationjob", str(job.pk), "system")


def test_only_product_teams_may_generate_and_each_refusal_is_recorded(world, ml_engineer, product):
    with pytest.raises(ApplicationError) as refused:
        text_job(world, ml_engineer)
    assert refused.value.status == 403
    with pytest.raises(ApplicationError) as unknown:
        generation_request(model_id="not-a-model", kind="text_to_image", parameters={"prompt": "p"}, actor=product)
    assert (unknown.value.code, unknown.value.status) == ("unknown_model", 404)
    with pytest.raises(ApplicationError) as bad:
        text_job(world, product, width=4096, height=4096)
    assert bad.value.code == "too_large"

    assert not GenerationJob.objects.exists()
    assert [e.details["code"] for e in audit_events(event_type=EventType.GENERATION_REFUSED)] == [
        "permission_denied", "unknown_model", "too_large"
    ]  # fmt: skip


# -- the job's life ------------------------------------------------------------------------------
def test_a_cancelled_job_never_runs_and_only_its_requester_or_an_operator_may_cancel(world, product, operator):
    from tests.core.factories import user_with_role

    other = user_with_role("pete", "product")
    job = text_job(world, product)
    with pytest.raises(ApplicationError) as refused:
        generation_cancel(job_id=job.pk, actor=other)
    assert refused.value.status == 403

    generation_cancel(job_id=job.pk, actor=product)

    assert job_run(job_id=str(job.pk), task_id=job.task_id) == "skipped"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and not Output.objects.exists()
    with pytest.raises(ApplicationError) as again:
        generation_cancel(job_id=job.pk, actor=operator)
    assert again.value.code == "job_finished"


def test_a_job_redelivered_after_its_worker_died_fails_as_lost_instead_of_running_twice(world, product):
    job = text_job(world, product)
    assert job_claim(job_id=job.pk, task_id=job.task_id).status == JobStatus.RUNNING

    assert job_run(job_id=str(job.pk), task_id=job.task_id) == "skipped"

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker_lost")
    statuses = [(e.details["from"], e.details["to"]) for e in audit_events(event_type=EventType.GENERATION_STATUS_CHANGED)]
    assert statuses == [("queued", "running"), ("running", "failed")]
