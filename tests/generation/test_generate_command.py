"""`generate` in-process: its refusals (exit 1 with a code) and its usage errors (exit 2).
The success path runs against a real worker in test_worker.py."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.audit import audit_events
from core.models import EventType
from generation.models import GenerationJob
from provenance.services.consent import consent_revoke
from tests.generation.factories import SIZE

pytestmark = pytest.mark.slow


def generate(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("generate", *args, "--json", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue()) if out.getvalue() else {}
    return 0, json.loads(out.getvalue())


def args(world, output) -> list[str]:
    return [
        "--model",
        str(world.model.pk),
        "--prompt",
        "a lighthouse",
        "--output",
        str(output),
        "--width",
        str(SIZE),
        "--height",
        str(SIZE),
    ]


def test_a_tainted_model_is_refused_with_exit_1_and_the_reason(world, contributor, tmp_path):
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="withdrawn")

    code, document = generate(*args(world, tmp_path / "out.png"))

    assert code == 1 and document["code"] == "snapshot_tainted" and "tainted" in document["error"]
    assert not GenerationJob.objects.exists() and not (tmp_path / "out.png").exists()
    [event] = audit_events(event_type=EventType.GENERATION_REFUSED)
    assert event.actor == "system" and event.details["code"] == "snapshot_tainted"


def test_an_existing_output_file_is_never_overwritten_and_no_job_is_queued(world, tmp_path):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"mine")

    code, document = generate(*args(world, existing))

    assert (code, document["code"]) == (1, "output_exists")
    assert existing.read_bytes() == b"mine" and not GenerationJob.objects.exists()
    assert generate(*args(world, tmp_path / "missing-folder" / "out.png"))[1]["code"] == "output_dir_missing"


def test_usage_errors_exit_2(db, tmp_path):
    assert generate("--model", "00000000-0000-0000-0000-000000000000", "--prompt", "p")[0] == 2
    with pytest.raises(CommandError) as usage:
        call_command("generate", "--prompt", "p", "--output", str(tmp_path / "o.png"), stdout=io.StringIO(), stderr=io.StringIO())
    # manage.py exits 2 on this (argparse); in-process Django raises it as a CommandError.
    assert "one of the arguments --model --show --cancel is required" in str(usage.value)


def test_show_prints_a_job_and_cancel_cancels_it(world, product, tmp_path):
    from generation.services.requests import generation_request

    job = generation_request(model_id=world.model.pk, kind="text_to_image", parameters={"prompt": "p"}, seed=1, actor=product)

    assert generate("--show", str(job.pk))[1]["status"] == "queued"
    code, cancelled = generate("--cancel", str(job.pk))

    assert (code, cancelled["status"]) == (0, "cancelled")
    assert generate("--cancel", str(job.pk))[1]["code"] == "job_finished"
