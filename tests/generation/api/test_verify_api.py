"""/api/v1/verify/: public, throttled; a manifest settles it at once, a stripped copy is queued
for a CPU worker and polled. The queued half is run here by the service the worker calls."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.services.verification import verification_run
from tests.generation.factories import released

pytestmark = pytest.mark.slow
VERIFY = "/api/v1/verify/"


def post(api, data: bytes, name: str = "image.png"):
    return api.post(VERIFY, {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_anyone_gets_an_output_verified_at_once_from_its_manifest(world, product, api):
    output, data = released(world, product)

    response = post(api, data)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "done" and response["Location"] == f"/api/v1/verify/{body['verification_id']}/"
    verdict = body["verdict"]
    assert (verdict["trusted"], verdict["traced_by"], verdict["output_id"], verdict["errors"]) == (
        True,
        "manifest",
        str(output.pk),
        [],
    )
    assert [entry["type"] for entry in verdict["chain"]] == ["output", "model", "base_model", "snapshot"]
    assert api.get(response["Location"]).json() == body


def test_a_stripped_copy_is_queued_then_traced_by_a_worker(world, product, api):
    output, data = released(world, product)
    resaved = io.BytesIO()
    Image.open(io.BytesIO(data)).save(resaved, "PNG")

    response = post(api, resaved.getvalue())

    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["verdict"]) == ("queued", None)
    assert verification_run(verification_id=queued["verification_id"]) == "done"
    assert verification_run(verification_id=queued["verification_id"]) == "skipped"  # claimed once
    done = api.get(response["Location"]).json()
    assert done["status"] == "done"
    assert (done["verdict"]["traced_by"], done["verdict"]["output_id"], done["verdict"]["manifest"]) == (
        "watermark",
        str(output.pk),
        "stored",
    )


def test_bad_uploads_are_refused_with_a_reason(db, api, settings):
    response = post(api, b"not an image at all")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_image")

    settings.CLEANROOM_VERIFY_MAX_BYTES = 1000
    response = post(api, b"\x89PNG" + b"\0" * 2000)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")

    assert api.post(VERIFY, {}, format="multipart").status_code == 400
    assert api.get("/api/v1/verify/00000000-0000-0000-0000-000000000000/").status_code == 404
