"""/api/v1/verify/: public, throttled; a manifest settles it at once, a stripped copy is queued
for a CPU worker and polled. The queued half is run here by the service the worker calls. An
upload is never a blob: a queued one waits in the verify spool, within its quota, until its
verdict is stored."""

from __future__ import annotations

import io
import stat

import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from schemathesis.core.transport import Response

from generation.models import Verification
from generation.services.verification import verification_run
from tests.generation.factories import astronaut, blob_files, files_holding, png, released

pytestmark = pytest.mark.slow
VERIFY = "/api/v1/verify/"


def post(api, data: bytes, name: str = "image.png"):
    return api.post(VERIFY, {"file": SimpleUploadedFile(name, data)}, format="multipart")


def conforms(api, response, path: str, method: str) -> None:
    """The answer is one the OpenAPI schema documents (status, content type, body), checked by
    schemathesis as the schema fuzz test checks every operation; raises otherwise."""
    schema = schemathesis.openapi.from_dict(api.get("/api/v1/schema/", {"format": "json"}).json())
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=True,
        encoding="utf-8",
    )
    schema[path][method].validate_response(answer)


def test_anyone_gets_an_output_verified_at_once_from_its_manifest(world, product, api, settings, tmp_path):
    output, data = released(world, product)
    settings.CLEANROOM_VERIFY_SPOOL_MAX_BYTES = 0  # no room to queue anything: a settled answer keeps nothing
    blobs = blob_files()

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
    assert (verdict["verdict"], verdict["valid"], verdict["signer"]["trusted"]) == ("Trusted", True, True)
    assert set(verdict["chain"][3]) >= {"approvers", "approved_at", "member_count", "created_at", "status"}
    conforms(api, response, VERIFY, "POST")
    again = api.get(response["Location"])
    conforms(api, again, "/api/v1/verify/{id}/", "GET")
    assert again.json() == body
    assert blob_files() == blobs and not list((tmp_path / "verify-spool").glob("*-*"))


def test_a_stripped_copy_is_queued_then_traced_by_a_worker(world, product, api, tmp_path):
    output, data = released(world, product)
    resaved = io.BytesIO()
    Image.open(io.BytesIO(data)).save(resaved, "PNG")
    upload, blobs = resaved.getvalue(), blob_files()

    response = post(api, upload)

    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["verdict"]) == ("queued", None)
    # Until its verdict is stored, the upload waits in the private spool under the request's id,
    # never in the blob store of governed assets.
    spool = tmp_path / "verify-spool"
    assert files_holding(tmp_path, upload) == [spool / queued["verification_id"]]
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert stat.S_IMODE((spool / queued["verification_id"]).stat().st_mode) == 0o600
    assert blob_files() == blobs
    assert verification_run(verification_id=queued["verification_id"]) == "done"
    assert files_holding(tmp_path, upload) == [] and blob_files() == blobs
    assert verification_run(verification_id=queued["verification_id"]) == "skipped"  # claimed once
    done_response = api.get(response["Location"])
    conforms(api, done_response, "/api/v1/verify/{id}/", "GET")
    done = done_response.json()
    assert done["status"] == "done"
    assert (done["verdict"]["verdict"], done["verdict"]["chain_state"]) == ("Recovered", "Trusted")
    assert done["verdict"]["confidence"]["binding"] == "watermark"
    assert (done["verdict"]["traced_by"], done["verdict"]["output_id"], done["verdict"]["manifest"]) == (
        "watermark",
        str(output.pk),
        "stored",
    )


def test_bad_uploads_are_refused_with_a_reason(db, api, settings):
    response = post(api, b"not an image at all")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_image")
    assert "object at 0x" not in response.json()["error"]  # Pillow names the BytesIO it was given

    settings.CLEANROOM_VERIFY_MAX_BYTES = 1000
    response = post(api, b"\x89PNG" + b"\0" * 2000)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")

    assert api.post(VERIFY, {}, format="multipart").status_code == 400
    assert api.get("/api/v1/verify/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_full_spool_refuses_to_queue_with_retry_after_and_keeps_nothing(db, pki, api, settings, tmp_path):
    first, second = png(astronaut()), png(astronaut().rotate(90))
    settings.CLEANROOM_VERIFY_SPOOL_MAX_BYTES = len(first) + len(second) - 1
    assert post(api, first).status_code == 202

    refused = post(api, second)

    assert refused.status_code == 503, refused.json()
    assert refused.json()["code"] == "verify_busy" and refused.json()["error"]
    assert int(refused["Retry-After"]) > 0
    assert Verification.objects.count() == 1
    assert files_holding(tmp_path, second) == [] and blob_files() == set()
