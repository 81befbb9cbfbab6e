"""The generation API: who may submit, see, cancel and download, and what each gets.

Only product teams submit. A job is seen by its requester, operators and compliance; another
product team gets 404 (its existence never leaks); other roles get 403, no credentials 401.
Jobs are run in the test by the same service the `gpu` worker calls.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.audit import audit_events
from core.models import EventType
from core.storage import blob_open
from generation.models import GenerationJob
from generation.services.execution import job_run
from provenance.services.consent import consent_revoke
from tests.core.factories import user_with_role
from tests.generation.factories import FAST, SIZE, astronaut, corner_mask, png

pytestmark = pytest.mark.slow
JOBS = "/api/v1/generation/jobs/"


def submit(client, world, **fields):
    body = {
        "model": str(world.model.pk),
        "kind": "text_to_image",
        "prompt": "a lighthouse",
        "width": SIZE,
        "height": SIZE,
        **FAST,
        **fields,
    }
    return client.post(JOBS, body, format="multipart")


def inpaint_body(world, **fields) -> dict:
    return {
        "model": str(world.model.pk), "kind": "inpaint", **FAST, **fields,
        "image": SimpleUploadedFile("a.png", png(astronaut())), "mask": SimpleUploadedFile("m.png", png(corner_mask())),
    }  # fmt: skip


def run(job_id: str) -> None:
    job = GenerationJob.objects.get(pk=job_id)
    job_run(job_id=job_id, task_id=job.task_id)


@pytest.fixture
def other_product(db):
    return user_with_role("pete", "product")


def test_a_product_team_submits_polls_and_downloads_its_signed_output(world, product, client_for):
    api = client_for(product)

    submitted = api.post(JOBS, inpaint_body(world, prompt="a kite", seed=11), format="multipart")

    assert submitted.status_code == 202, submitted.content[:400]
    body = submitted.json()
    assert (body["status"], body["requester"], body["seed"], body["output"]) == ("queued", "pia", 11, None)
    assert body["input_sha256"] and body["mask_sha256"] and body["parameters"]["width"] == SIZE
    assert submitted["Location"] == f"{JOBS}{body['job_id']}/"
    run(body["job_id"])
    polled = api.get(f"{JOBS}{body['job_id']}/").json()
    assert polled["status"] == "succeeded" and set(polled["stage_ms"]) >= {"inference", "moderation", "watermark", "sign"}
    output = polled["output"]
    assert output["released"] and output["watermark_id"] >= 1 and output["sha256"]
    assert api.get(f"/api/v1/generation/outputs/{output['output_id']}/").json()["sha256"] == output["sha256"]
    download = api.get(f"/api/v1/generation/outputs/{output['output_id']}/download/", HTTP_ACCEPT="image/png")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    with blob_open(output["sha256"]) as handle:
        assert download.content == handle.read()
    assert [job["job_id"] for job in api.get(JOBS).json()["results"]] == [body["job_id"]]


def test_who_may_see_a_job_and_download_its_output(
    world, product, other_product, operator, compliance, ml_engineer, outsider, client_for
):
    job_id = submit(client_for(product), world).json()["job_id"]
    run(job_id)
    output_id = GenerationJob.objects.get(pk=job_id).output.pk
    urls = [f"{JOBS}{job_id}/", f"/api/v1/generation/outputs/{output_id}/", f"/api/v1/generation/outputs/{output_id}/download/"]
    expected = {None: 401, outsider: 403, ml_engineer: 403, other_product: 404, product: 200, operator: 200, compliance: 200}

    for user, status in expected.items():
        assert [client_for(user).get(url).status_code for url in urls] == [status] * 3, user
    assert client_for(other_product).get(JOBS).json()["results"] == []
    assert len(client_for(compliance).get(JOBS).json()["results"]) == 1


def test_only_product_teams_may_submit(world, operator, ml_engineer, compliance, outsider, client_for):
    for user, status in {None: 401, outsider: 403, ml_engineer: 403, operator: 403, compliance: 403}.items():
        assert submit(client_for(user), world).status_code == status
    assert not GenerationJob.objects.exists()


def test_bad_requests_are_400_with_a_reason_and_code_and_leave_no_job(world, product, client_for):
    api = client_for(product)
    not_an_image = SimpleUploadedFile("photo.png", b"this is not an image", "image/png")

    cases = [
        (submit(api, world, kind="sketch"), "unknown_kind"),
        (submit(api, world, width=4096, height=4096), "too_large"),
        (
            api.post(
                JOBS,
                {
                    "model": str(world.model.pk),
                    "kind": "inpaint",
                    "prompt": "p",
                    "image": SimpleUploadedFile("a.png", png(astronaut())),
                },
                format="multipart",
            ),
            "mask_required",
        ),
        (
            api.post(
                JOBS,
                {"model": str(world.model.pk), "kind": "image_to_image", "prompt": "p", "image": not_an_image},
                format="multipart",
            ),
            "invalid_image",
        ),
    ]

    for response, code in cases:
        assert (response.status_code, response.json()["code"]) == (400, code), response.content[:300]
        assert response.json()["error"]
    assert not GenerationJob.objects.exists()
    assert [e.details["code"] for e in audit_events(event_type=EventType.GENERATION_REFUSED)] == [code for _, code in cases]


def test_a_tainted_model_is_refused_with_409_and_the_reason(world, product, contributor, client_for):
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="withdrawn")

    response = submit(client_for(product), world)

    assert (response.status_code, response.json()["code"]) == (409, "snapshot_tainted")
    assert "tainted" in response.json()["error"]


def test_a_withheld_output_is_never_downloadable(world, product, operator, settings, client_for):
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet", "LABELS": ["FACE_FEMALE", "FACE_MALE"], "THRESHOLD": 0.5}
    job_id = client_for(product).post(JOBS, inpaint_body(world, prompt="a helmet"), format="multipart").json()["job_id"]
    run(job_id)

    for user in (product, operator):
        job = client_for(user).get(f"{JOBS}{job_id}/").json()
        assert job["status"] == "withheld" and job["output"]["released"] is False and job["output"]["sha256"] is None
        download = client_for(user).get(f"/api/v1/generation/outputs/{job['output']['output_id']}/download/")
        assert (download.status_code, download.json()["code"]) == (409, "output_withheld")
        assert "FACE_FEMALE" in download.json()["error"]


def test_a_requester_cancels_its_queued_job_and_another_team_cannot(world, product, other_product, client_for):
    job_id = submit(client_for(product), world).json()["job_id"]

    assert client_for(other_product).post(f"{JOBS}{job_id}/cancel/").status_code == 404
    cancelled = client_for(product).post(f"{JOBS}{job_id}/cancel/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client_for(product).post(f"{JOBS}{job_id}/cancel/").json()["code"] == "job_finished"


def test_the_schema_describes_the_generation_endpoints(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    assert {f"{JOBS}", f"{JOBS}{{id}}/", "/api/v1/generation/outputs/{id}/download/"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"][JOBS]["post"]["requestBody"]["content"]
    assert "image/png" in schema["paths"]["/api/v1/generation/outputs/{id}/download/"]["get"]["responses"]["200"]["content"]
