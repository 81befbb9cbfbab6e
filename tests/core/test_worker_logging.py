"""`make run` (scripts/run.sh) starts a worker that logs to `<data folder>/worker.log`: its
start-up and every task it runs are there, not mixed into the web server's terminal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from tests.workers import ROOT, wait_until, worker_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sender(data_dir: Path) -> Celery:
    """A Celery client on the embedded broker of the data folder `data_dir`. Not made the current
    app: every `shared_task` of this test session sends through the current app, and would send
    to this folder for the rest of the session (the workers of later tests then wait for ever)."""
    options = {
        key: str(data_dir / "broker" / Path(value).name) if key.endswith(("_in", "_out", "_folder")) else value
        for key, value in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items()
    }
    return Celery("sender", broker="filesystem://", broker_transport_options=options, set_as_current=False)


def test_the_worker_make_run_starts_writes_its_start_up_and_its_tasks_to_worker_log(tmp_path):
    log, terminal = tmp_path / "worker.log", tmp_path / "run.out"
    run = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=worker_environment(tmp_path, HOST="127.0.0.1", PORT=str(_free_port())),
        stdout=terminal.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def logged() -> str:
        return log.read_text() if log.exists() else ""

    def explain() -> str:
        return f"worker.log:\n{logged()}\nrun.sh's terminal:\n{terminal.read_text()}"

    try:
        wait_until(lambda: " ready." in logged(), timeout=90, explain=explain)

        _sender(tmp_path).send_task("core.reconcile", queue="default")

        wait_until(lambda: "Task core.reconcile[" in logged() and "succeeded" in logged(), timeout=60, explain=explain)
        assert "Connected to filesystem://" in logged()
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)


def test_the_sender_leaves_the_sessions_tasks_on_the_platforms_broker(tmp_path):
    """Regression: the sender once became the current app, and every later test's task went to
    this test's folder."""
    from celery import current_app

    before = current_app.conf.broker_transport_options.get("data_folder_in")
    _sender(tmp_path)
    assert current_app.conf.broker_transport_options.get("data_folder_in") == before
