"""`basemodel` and `train` as an operator runs them: subprocesses against a PostgreSQL
database of their own, and a real `celery worker` on the `gpu` queue (RabbitMQ) that trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.provenance.factories import write_consent, write_image
from tests.workers import stop_worker as stop

ROOT = Path(__file__).resolve().parents[2]
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
pytestmark = pytest.mark.slow


class Platform:
    def __init__(self, env: dict[str, str], root: Path):
        self.env, self.root = env, root
        self.queue = f"{env['CLEANROOM_QUEUE_PREFIX']}gpu"

    def manage(self, *args: str, expect: int = 0) -> dict:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}\n{self.worker_log()}"
        return json.loads(done.stdout) if "--json" in args else {}

    def worker_log(self) -> str:
        log = self.root / "gpu.log"
        return log.read_text()[-4000:] if log.exists() else ""

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "-c", "1", "-n", "gpu@%h",
             "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=self.env, stdout=(self.root / "gpu.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    name = f"cleanroom_training_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    root = tmp_path_factory.mktemp("training-cli")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_"))
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        CLEANROOM_DATA_DIR=str(root / "data"),
        DJANGO_SETTINGS_MODULE="config.settings.base",
        CELERY_BROKER_URL=BROKER,
        CLEANROOM_QUEUE_PREFIX=f"{name}-",  # this run's queues alone
        CLEANROOM_AUDIT_ON_INGEST="false",  # reviewers clear the images by hand below
        CLEANROOM_TRAINING_DEVICE="cpu",
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
    )
    yield Platform(env, root)
    from kombu import Connection

    with Connection(BROKER) as connection:
        connection.default_channel.queue_delete(f"{name}-gpu")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_operator_registers_a_base_model_and_trains_through_a_gpu_worker(platform, tmp_path):
    p = platform
    p.manage("migrate", "-v0")
    for username, role in (("rita", "reviewer"), ("ravi", "reviewer"), ("mel", "ml_engineer")):
        p.manage("user", "add", username, "--role", role)
    p.manage("contributor", "add", "carla@example.com", "--name", "Carla")
    p.manage("dataset", "create", "faces", "--scopes", "ai_training,generative_training")
    images = tmp_path / "images"
    for i in range(3):
        write_image(images / f"img{i}.jpg", seed=40 + i, size=(80, 64))
        (images / f"img{i}.txt").write_text(f"a portrait number {i}")
    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    ingested = p.manage(
        "ingest", str(images), "--dataset", "faces", "--contributor", "carla@example.com", "--consent", str(consent), "--json"
    )
    for row in ingested["accepted"]:
        p.manage("asset", "review", row["asset_id"], "--as", "rita", "--decision", "approve", "--reason", "clean")
    snapshot_id = p.manage("snapshot", "create", "--dataset", "faces", "--as", "mel", "--json")["snapshot_id"]
    for reviewer in ("rita", "ravi"):
        p.manage("snapshot", "approve", snapshot_id, "--as", reviewer)
    p.manage("pki", "init", "--json")

    not_a_pipeline = p.manage("basemodel", "add", str(images), "--name", "photos", "--licence", "MIT", "--json", expect=1)
    assert not_a_pipeline["code"] == "not_a_pipeline" and "model_index.json" in not_a_pipeline["error"]
    tiny = p.manage("basemodel", "build-tiny", str(tmp_path / "tiny-sd"), "--json")["path"]
    added = p.manage(
        "basemodel",
        "add",
        tiny,
        "--name",
        "tiny-sd",
        "--licence",
        "MIT",
        "--provenance",
        "random weights",
        "--as",
        "mel",
        "--json",
    )
    assert set(added) >= {"base_model_id", "status", "sha256"} and added["status"] == "in_review"
    base_id = added["base_model_id"]
    assert p.manage("basemodel", "approve", base_id, "--as", "mel", "--json", expect=1)["code"] == "permission_denied"

    # Not approved yet: refused with exit 1, the reason and its code, and no run is left behind.
    refused = p.manage("train", "--snapshot", snapshot_id, "--base", base_id, "--steps", "3", "--json", expect=1)
    assert refused["code"] == "base_model_not_approved" and "not approved" in refused["error"]
    assert p.manage("basemodel", "approve", base_id, "--as", "rita", "--json")["status"] == "in_review"
    assert p.manage("basemodel", "approve", base_id, "--as", "ravi", "--json")["status"] == "approved"

    worker = p.worker()
    try:
        trained = p.manage(
            "train", "--snapshot", snapshot_id, "--base", base_id, "--steps", "3", "--seed", "7", "--as", "mel", "--json"
        )
    finally:
        stop(worker)
    # No worker now: the run stays queued until it is cancelled (and its message revoked).
    queued = p.manage("train", "--snapshot", snapshot_id, "--base", base_id, "--steps", "2", "--no-wait", "--json")
    assert trained["status"] == "succeeded" and trained["model_id"] and len(trained["artifact_sha256"]) == 64
    assert set(trained) >= {"training_run_id", "status", "model_id", "artifact_sha256"}
    assert (queued["status"], queued["model_id"]) == ("queued", None)
    shown = p.manage("train", "--show", trained["training_run_id"], "--json")
    assert shown == {**trained, "progress": 1.0}
    cancelled = p.manage("train", "--cancel", queued["training_run_id"], "--json")
    assert cancelled["status"] == "cancelled"
    runs = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c",
         "from training.models import TrainingRun; print(sorted(TrainingRun.objects.values_list('status', 'task_id')))"],
        cwd=ROOT, env=p.env, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "('succeeded'" in runs and "('cancelled'" in runs and "queued" not in runs
    assert p.manage("auditlog", "verify", "--json")["valid"] is True
