"""A misconfigured backend (the trustmark watermark without its model files, a malformed setting):
every command answers the contract's JSON error `misconfigured` with exit 2 and no traceback,
and a worker that cannot run a job for it records the job failed, saying so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from generation.models import GenerationJob, JobStatus
from generation.services.execution import job_run
from generation.services.requests import generation_request
from tests.generation.factories import FAST, SIZE, astronaut, png

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    database = connection.settings_dict
    env.update(
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        DJANGO_SETTINGS_MODULE="config.settings.base",
        CLEANROOM_DATA_DIR=str(tmp_path),
        CLEANROOM_PKI_DIR=str(tmp_path / "pki"),
        HF_HUB_OFFLINE="1",
        **extra,
    )
    return env


def _trustmark_without_files(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "trustmark-models"
    empty.mkdir()
    return {"CLEANROOM_WATERMARK_BACKEND": "trustmark", "CLEANROOM_TRUSTMARK_MODEL_DIR": str(empty)}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _assert_misconfigured(done: subprocess.CompletedProcess, mentions: str) -> dict:
    assert done.returncode == 2, f"{done.stdout}\n{done.stderr}"
    document = json.loads(done.stdout)  # exactly one JSON document: json.loads refuses anything after it
    assert document["code"] == "misconfigured" and mentions in document["error"]
    assert "Traceback" not in done.stderr and "misconfigured" in done.stderr
    return document


def test_verify_with_the_trustmark_backend_missing_its_files_answers_misconfigured(db, pki, tmp_path):
    image = tmp_path / "stripped.png"
    image.write_bytes(png(astronaut()))

    done = _manage(_environment(tmp_path, **_trustmark_without_files(tmp_path)), "verify", str(image))

    _assert_misconfigured(done, "TrustMark's model files are not in")


def test_a_malformed_setting_answers_misconfigured_before_any_command_runs(tmp_path):
    env = _environment(tmp_path, CLEANROOM_TRUSTMARK_ALLOW_UNPUBLISHED="maybe")

    done = _manage(env, "generate", "--model", "00000000-0000-0000-0000-000000000000", "--prompt", "p", "--output", "o.png")

    _assert_misconfigured(done, "CLEANROOM_TRUSTMARK_ALLOW_UNPUBLISHED")


def test_a_job_the_worker_cannot_watermark_for_a_misconfigured_backend_is_recorded_failed(settings, world, product, tmp_path):
    settings.CLEANROOM_WATERMARK = {
        **settings.CLEANROOM_WATERMARK,
        "BACKEND": "trustmark",
        "TRUSTMARK_MODEL_DIR": str(tmp_path),
    }
    job = generation_request(
        model_id=world.model.pk,
        kind="text_to_image",
        parameters={"prompt": "p", "width": SIZE, "height": SIZE, **FAST},
        seed=1,
        actor=product,
    )

    assert job_run(job_id=str(job.pk), task_id=job.task_id) == JobStatus.FAILED

    job = GenerationJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert job.error.startswith("misconfigured: TrustMark's model files are not in")
    assert job.status_reason.startswith("misconfigured:") and "Traceback" not in job.error
    assert set(job.stage_ms) >= {"load", "inference", "moderation"}


def test_generate_answers_misconfigured_when_its_worker_cannot_watermark(transactional_db, world, tmp_path):
    from kombu import Connection

    from tests.workers import REDIS_BROKER, gpu_worker_environment, stop_worker

    prefix = f"cleanroom_misconfigured_{uuid.uuid4().hex[:8]}-"
    env = gpu_worker_environment(tmp_path, prefix, **_trustmark_without_files(tmp_path))
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{prefix}gpu", "-c", "1",
             "-n", f"gpu-{prefix}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        done = _manage(
            env, "generate", "--model", str(world.model.pk), "--prompt", "a lighthouse", "--output", str(tmp_path / "o.png"),
            "--width", str(SIZE), "--height", str(SIZE), "--steps", "2", "--guidance", "1", "--timeout", "240",
        )  # fmt: skip
    finally:
        stop_worker(worker)
        with Connection(REDIS_BROKER) as broker:
            broker.default_channel.queue_delete(f"{prefix}gpu")

    document = _assert_misconfigured(done, "TrustMark's model files are not in")
    assert document["status"] == "failed" and not (tmp_path / "o.png").exists()
    assert GenerationJob.objects.get(pk=document["job_id"]).error.startswith("misconfigured:")


def test_a_verify_request_the_worker_cannot_answer_for_a_misconfigured_backend_is_recorded_failed(db, pki, settings, tmp_path):
    from generation.models import Verification, VerificationStatus
    from generation.services.verification import verification_request, verification_run

    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "trustmark", "TRUSTMARK_MODEL_DIR": str(tmp_path)}
    queued = verification_request(data=png(astronaut()))  # no manifest: the soft bindings must be searched
    assert queued.status == VerificationStatus.QUEUED

    assert verification_run(verification_id=queued.pk, task_id=queued.task_id) == VerificationStatus.FAILED

    answered = Verification.objects.get(pk=queued.pk)
    assert answered.status == VerificationStatus.FAILED and answered.finished_at is not None
    assert answered.error.startswith("misconfigured: TrustMark's model files are not in")
