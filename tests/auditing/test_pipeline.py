"""The audit pipeline for real: `celery worker` processes on RabbitMQ and on Redis, a PostgreSQL
database of its own, and the platform driven from outside through its commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.provenance.factories import image_bytes, write_consent
from tests.workers import stop_worker as stop

ROOT = Path(__file__).resolve().parents[2]
BROKERS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672//", "redis": "redis://127.0.0.1:6379/15"}
SYNTHETIC_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
pytestmark = pytest.mark.slow


class Instance:
    def __init__(self, env: dict[str, str], root: Path):
        self.env, self.root = env, root
        self.queue = f"{env['CLEANROOM_QUEUE_PREFIX']}audit"

    def manage(self, *args: str, env: dict | None = None, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == expect, f"{args}: {done.stdout}\n{done.stderr}\n{self.worker_logs()}"
        return done

    def worker_logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.root.glob("*.log")))

    def worker(self, name: str, env: dict, concurrency: int = 1) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("w")
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "-c",
                str(concurrency),
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    name = f"cleanroom_pipeline_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    root = tmp_path_factory.mktemp("pipeline")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_"))
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        CLEANROOM_DATA_DIR=str(root / "data"),
        DJANGO_SETTINGS_MODULE="config.settings.base",
        HF_HUB_OFFLINE="1",
        OMP_THREAD_LIMIT="1",
        # Queues of this run alone: another run on the same broker never takes our messages.
        CLEANROOM_QUEUE_PREFIX=f"{name}-",
    )
    platform = Instance(env, root)
    platform.manage("migrate", "-v0")
    platform.manage("contributor", "add", "carla@example.com", "--name", "Carla")
    write_consent(root / "consent", contributor="carla@example.com", scopes=["ai_training"])
    yield platform
    from kombu import Connection

    with Connection(BROKERS["rabbitmq"]) as connection:
        connection.default_channel.queue_delete(platform.queue)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ingest(platform: Instance, dataset: str, folder: Path, env: dict) -> dict:
    platform.manage("dataset", "create", dataset, "--scopes", "ai_training", env=env)
    done = platform.manage(
        "ingest",
        str(folder),
        "--dataset",
        dataset,
        "--contributor",
        "carla@example.com",
        "--consent",
        str(platform.root / "consent" / "consent.json"),
        "--json",
        env=env,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_ingested_images_are_audited_by_real_workers(instance, broker, tmp_path):
    env = {"CELERY_BROKER_URL": BROKERS[broker]}
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f", "-Q", instance.queue],
        cwd=ROOT,
        env={**instance.env, **env},
        capture_output=True,
        timeout=60,
    )
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        (folder / f"photo{i}.jpg").write_bytes(image_bytes(700 + i + (10 if broker == "redis" else 0)))
    (folder / "generated.jpg").write_bytes(image_bytes(800 if broker == "rabbitmq" else 801, xmp=SYNTHETIC_XMP))
    worker = instance.worker(f"audit-{broker}", env, concurrency=2)
    try:
        accepted = ingest(instance, f"faces-{broker}", folder, env)["accepted"]
        assert len(accepted) == 6
        report = json.loads(
            instance.manage("audit", "--dataset", f"faces-{broker}", "--wait", "--timeout", "90", "--json", env=env).stdout
        )
    finally:
        stop(worker)
    statuses = {row["asset_id"]: row["status"] for row in report["assets"]}
    generated = next(row["asset_id"] for row in accepted if row["path"].endswith("generated.jpg"))
    assert statuses.pop(generated) == "flagged"
    assert set(statuses.values()) == {"clear"}
    flagged = next(row for row in report["assets"] if row["asset_id"] == generated)
    assert [(f["auditor"], f["code"]) for f in flagged["findings"]] == [("synthetic", "synthetic.trained_algorithmic_media")]
    assert json.loads(instance.manage("auditlog", "verify", "--json").stdout)["valid"] is True


def test_a_worker_killed_mid_task_loses_nothing(instance, tmp_path):
    """SIGKILL the worker while it audits; a new worker gets the message back and finishes it."""
    marker = tmp_path / "started"
    env = {
        "CELERY_BROKER_URL": BROKERS["rabbitmq"],
        "CLEANROOM_AUDITORS": "auditing.auditors.synthetic.SyntheticAuditor,tests.auditing.auditors.SlowAuditor",
        "CLEANROOM_TEST_SLOW_MARKER": str(marker),
        "CLEANROOM_TEST_SLOW_SECONDS": "30",
    }
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f", "-Q", instance.queue],
        cwd=ROOT,
        env={**instance.env, **env},
        capture_output=True,
        timeout=60,
    )
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "one.jpg").write_bytes(image_bytes(900))
    doomed = instance.worker("doomed", env)
    try:
        [row] = ingest(instance, "faces-kill", folder, env)["accepted"]
        deadline = time.monotonic() + 60
        while not (marker.exists() and any(marker.iterdir())):
            assert time.monotonic() < deadline, "the worker never started the task"
            time.sleep(0.2)
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    show = json.loads(instance.manage("asset", "show", row["asset_id"], "--json", env=env).stdout)
    assert show["status"] == "auditing"
    survivor = instance.worker("survivor", {**env, "CLEANROOM_TEST_SLOW_SECONDS": "0"})
    try:
        report = json.loads(
            instance.manage("audit", "--dataset", "faces-kill", "--wait", "--timeout", "90", "--json", env=env).stdout
        )
    finally:
        stop(survivor)
    assert [asset["status"] for asset in report["assets"]] == ["clear"]
    runs = instance.manage(
        "shell",
        "-v0",
        "-c",
        "from auditing.models import AuditRun; "
        f"print(sorted(AuditRun.objects.filter(asset_id='{row['asset_id']}').values_list('auditor', 'attempts', 'status')))",
        env=env,
    )
    assert runs.stdout.strip() == "[('slow', 2, 'done'), ('synthetic', 1, 'done')]"
