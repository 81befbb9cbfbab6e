"""`cleanroom health [--ready] [--json]` (exec probes of workers and beat) and GET /healthz and
/readyz (the web process's probes), against the real database and brokers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from django.test import Client

from tests.workers import ROOT, worker_environment

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health(tmp_path, *args: str, **env: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "manage.py", "health", *args, "--json"],
        cwd=ROOT, env={**worker_environment(tmp_path), **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def test_health_without_ready_answers_alive_without_asking_the_database(tmp_path):
    code, report = _health(tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/nothing")

    assert (code, report["status"]) == (0, "ok")


def test_health_ready_exits_0_when_the_database_the_broker_and_the_blobs_answer(tmp_path):
    code, report = _health(tmp_path, "--ready")

    assert code == 0, report
    assert report["checks"] == {"database": "ok", "broker": "ok", "blobs": "ok"}


def test_health_ready_exits_1_and_names_the_database_when_it_does_not_answer(tmp_path):
    code, report = _health(tmp_path, "--ready", DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/cleanroom")

    assert code == 1
    assert report["failed"] == ["database"]
    assert "Connection refused" in report["checks"]["database"]


def test_health_ready_exits_1_and_names_the_broker_when_rabbitmq_does_not_answer(tmp_path):
    code, report = _health(tmp_path, "--ready", CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{_closed_port()}//")

    assert code == 1
    assert report["failed"] == ["broker"]


@pytest.mark.parametrize("broker", ["amqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/15"])
def test_health_ready_exits_0_on_a_real_broker_that_answers(tmp_path, broker):
    code, report = _health(tmp_path, "--ready", CELERY_BROKER_URL=broker)

    assert code == 0, report


def test_a_worker_is_not_ready_until_its_signing_identity_loads(tmp_path):
    env = {"CLEANROOM_PROCESS": "worker", "CLEANROOM_PKI_DIR": str(tmp_path / "pki")}
    code, report = _health(tmp_path, "--ready", **env)
    assert code == 1
    assert report["failed"] == ["signer"]

    made = subprocess.run(
        [sys.executable, "manage.py", "pki", "init", "--json"],
        cwd=ROOT, env=worker_environment(tmp_path, **env), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    code, report = _health(tmp_path, "--ready", **env)
    assert code == 0, report
    assert report["checks"]["signer"] == "ok"


def test_an_audit_worker_is_ready_without_a_signing_identity_it_never_uses(tmp_path):
    env = {"CLEANROOM_PROCESS": "worker", "CLEANROOM_PKI_DIR": str(tmp_path / "pki"), "CLEANROOM_WORKER_QUEUES": "audit"}

    code, report = _health(tmp_path, "--ready", **env)

    assert code == 0, report
    assert report["checks"] == {"database": "ok", "broker": "ok", "blobs": "ok"}


@pytest.mark.parametrize("queues", ["default", "audit,gpu"])
def test_a_worker_whose_queues_sign_is_not_ready_without_its_signing_identity(tmp_path, queues):
    env = {"CLEANROOM_PROCESS": "worker", "CLEANROOM_PKI_DIR": str(tmp_path / "pki"), "CLEANROOM_WORKER_QUEUES": queues}

    code, report = _health(tmp_path, "--ready", **env)

    assert code == 1
    assert report["failed"] == ["signer"]


def test_healthz_answers_200_without_login():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_answers_200_when_every_dependency_answers():
    response = Client().get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json()["failed"] == []


def test_readyz_answers_503_naming_the_broker_when_it_is_down(settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{_closed_port()}//"

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
