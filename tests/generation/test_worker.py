"""`generate` for real: a `celery worker` on the `gpu` queue (Redis broker, a queue prefix of this
run's own), the command in a subprocess of its own, and the test database both share.

The world (consent, snapshot, base model, trained LoRA, signing identity) is committed by the
test process (transactional test) into folders the worker finds through its environment:
blobs, indexes and the PKI under CLEANROOM_DATA_DIR / CLEANROOM_PKI_DIR.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image

from core.storage import blob_open
from generation.models import GenerationJob, JobStatus
from provenance.c2pa.manifests import read_manifest
from tests.generation.factories import SIZE
from tests.workers import REDIS_BROKER, gpu_worker_environment, stop_worker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_generate_waits_for_a_real_gpu_worker_and_writes_the_signed_png(transactional_db, world, product, tmp_path):
    prefix = f"cleanroom_generation_{uuid.uuid4().hex[:8]}-"
    env = gpu_worker_environment(tmp_path, prefix)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{prefix}gpu", "-c", "1",
             "-n", f"gpu-{prefix}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    target = tmp_path / "out" / "lighthouse.png"
    target.parent.mkdir()
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "generate", "--model", str(world.model.pk), "--prompt", "a lighthouse at dusk",
             "--output", str(target), "--seed", "1234", "--width", str(SIZE), "--height", str(SIZE), "--steps", "2",
             "--guidance", "1", "--timeout", "240", "--as", "pia", "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        stop_worker(worker)
        from kombu import Connection

        with Connection(REDIS_BROKER) as broker:
            broker.default_channel.queue_delete(f"{prefix}gpu")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log_path.read_text()[-4000:]}"
    result = json.loads(done.stdout)
    assert set(result) >= {"job_id", "output_id", "path", "sha256"} and result["path"] == str(target)
    job = GenerationJob.objects.select_related("output").get(pk=result["job_id"])
    assert (job.status, job.seed, job.requester, str(job.output.pk)) == (JobStatus.SUCCEEDED, 1234, product, result["output_id"])
    assert job.task_id and "generation.run_job" in log_path.read_text() and job.task_id in log_path.read_text()
    data = target.read_bytes()
    assert oct(target.stat().st_mode & 0o777) == "0o644" and not list(target.parent.glob(".lighthouse.png.*"))
    with blob_open(result["sha256"]) as handle:
        assert handle.read() == data
    assert read_manifest(data, "image/png").trusted
    assert Image.open(io.BytesIO(data)).size == (SIZE, SIZE)

    again = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "generate",
            "--model",
            str(world.model.pk),
            "--prompt",
            "p",
            "--output",
            str(target),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1 and json.loads(again.stdout)["code"] == "output_exists"
    usage = subprocess.run(
        [sys.executable, "manage.py", "generate", "--prompt", "p", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert usage.returncode == 2 and "--model" in usage.stderr
