"""`ingest` in-process through call_command: a hostile consent file is a refusal with one JSON
document on stdout and exit 1, never a traceback."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from provenance.models import ConsentRecord
from provenance.services.datasets import dataset_create
from tests.provenance.factories import write_consent, write_image

pytestmark = pytest.mark.django_db


def ingest(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ingest", *args, "--json", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize("depth", [100, 200_000])
def test_a_deeply_nested_consent_file_is_refused_with_a_json_error(contributor, tmp_path, depth: int) -> None:
    dataset_create(slug="faces", scopes=["ai_training"])
    image = write_image(tmp_path / "images" / "a.jpg")
    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    document = {**json.loads(consent.read_text()), "scopes": "DEEP"}
    consent.write_text(json.dumps(document).replace('"DEEP"', "[" * depth + "]" * depth))

    code, stdout = ingest(str(image), "--dataset", "faces", "--contributor", "carla@example.com", "--consent", str(consent))

    assert code == 1
    document = json.loads(stdout)
    assert document["code"] == "invalid_consent" and "nest" in document["error"]
    assert stdout.count("\n") <= 1
    assert not ConsentRecord.objects.exists()
