"""The process entrypoints as an operator runs them: `cleanroom web` (gunicorn, production
settings), `cleanroom worker --queues …`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app
from tests.workers import ROOT, broker_folder, queued_messages, stop_worker, wait_until, worker_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
METRICS_TOKEN = "scrape-token-for-the-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:  # noqa: S310 (our own server)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _production_env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **worker_environment(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "CLEANROOM_SECRET_KEY": "k" * 64,
        "CLEANROOM_ALLOWED_HOSTS": "127.0.0.1",
        "CLEANROOM_SSL_REDIRECT": "true",
        "CLEANROOM_WEB_BIND": f"127.0.0.1:{port}",
        "CLEANROOM_METRICS_TOKEN": METRICS_TOKEN,
    }


def test_web_serves_probes_and_metrics_under_gunicorn_with_two_workers(tmp_path):
    port = _free_port()
    log = tmp_path / "web.log"
    web = subprocess.Popen(
        [sys.executable, "manage.py", "web", "--workers", "2"],
        cwd=ROOT, env=_production_env(tmp_path, port), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "Booting worker" in log.read_text() and log.read_text().count("Booting worker") >= 2,
                   timeout=60, explain=log.read_text)  # fmt: skip
        wait_until(lambda: _get(f"{base}/healthz")[0] == 200, timeout=30, explain=log.read_text)

        status, _, body = _get(f"{base}/readyz")
        assert status == 200, body
        # Everything else goes to HTTPS; the probes and metrics stay plain HTTP.
        assert _get(f"{base}/")[0] == 301
        # Enough requests that both gunicorn workers answer some.
        for _ in range(40):
            assert _get(f"{base}/healthz", **{"X-Request-ID": "probe-1"})[1]["X-Request-ID"] == "probe-1"
        assert _get(f"{base}/metrics")[0] == 403

        status, _, body = _get(f"{base}/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
        assert status == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        healthz = ("cleanroom_http_request_duration_seconds_count", (("method", "GET"), ("status", "200"), ("view", "healthz")))
        # Summed over both workers' files (multiprocess mode): one worker alone saw fewer.
        assert samples[healthz] >= 41
        assert ("cleanroom_queue_depth", (("queue", "default"),)) in samples
        assert "cleanroom_assets" in body.decode()
        pids = {line.split("pid: ")[1].rstrip(")\n") for line in log.read_text().splitlines() if "Booting worker" in line}
        assert len(pids) == 2
    finally:
        # gunicorn's master is the command's own process (exec): TERM stops it gracefully.
        os.killpg(web.pid, signal.SIGTERM)
        assert web.wait(timeout=60) == 0, log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in log.read_text()  # the access log, on stdout


def test_worker_consumes_the_queues_it_was_given_and_no_other(tmp_path):
    (tmp_path / "broker").symlink_to(broker_folder(), target_is_directory=True)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--queues", "default", "--concurrency", "1"],
        cwd=ROOT, env=worker_environment(tmp_path, CLEANROOM_LOG_LEVEL="INFO"), stdout=log.open("w"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        on_default = app.send_task("core.reconcile", queue="default")
        on_audit = app.send_task("core.reconcile", queue="audit")

        wait_until(lambda: f"core.reconcile[{on_default.id}] succeeded" in log.read_text(), timeout=90, explain=log.read_text)
        assert [m.name for m in queued_messages("audit", on_audit.id)] != []
        assert on_audit.id not in log.read_text()
    finally:
        stop_worker(worker)


def test_a_gpu_worker_runs_one_task_at_a_time_whatever_it_is_asked(tmp_path):
    (tmp_path / "broker").symlink_to(broker_folder(), target_is_directory=True)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--queues", "gpu", "--concurrency", "4"],
        cwd=ROOT, env=worker_environment(tmp_path), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: "concurrency:" in log.read_text(), timeout=90, explain=log.read_text)
        assert "concurrency: 1 (prefork)" in log.read_text()
        assert "one task per GPU" in log.read_text()
    finally:
        stop_worker(worker)


def test_worker_refuses_an_unknown_queue_as_a_usage_error():
    with pytest.raises(CommandError) as refused:
        call_command("worker", "--queues", "default,videos")

    assert refused.value.returncode == 2
    assert "videos" in str(refused.value)


def test_worker_takes_its_queues_from_the_environment_when_no_flag_names_them(tmp_path):
    (tmp_path / "broker").symlink_to(broker_folder(), target_is_directory=True)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--concurrency", "1"],
        cwd=ROOT, env=worker_environment(tmp_path, CLEANROOM_WORKER_QUEUES="audit"), stdout=log.open("w"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: "[queues]" in log.read_text() and "[tasks]" in log.read_text(), timeout=90, explain=log.read_text)
        banner = log.read_text().split("[queues]")[1].split("[tasks]")[0]
        assert [line.split()[1] for line in banner.splitlines() if line.strip().startswith(".>")] == ["audit"]
    finally:
        stop_worker(worker)


def test_worker_refuses_an_empty_queue_list_from_the_environment(settings):
    settings.CLEANROOM_WORKER_QUEUES = []

    with pytest.raises(CommandError) as refused:
        call_command("worker")

    assert refused.value.returncode == 2


def test_beat_sends_the_reconciler_on_schedule_and_keeps_its_schedule_in_the_data_folder(tmp_path):
    (tmp_path / "broker").symlink_to(broker_folder(), target_is_directory=True)
    log = tmp_path / "beat.log"
    beat = subprocess.Popen(
        [sys.executable, "manage.py", "beat"],
        cwd=ROOT, env=worker_environment(tmp_path), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        # The reconciler is due every 15 s (CELERY_BEAT_SCHEDULE).
        wait_until(lambda: bool(queued_messages("default")), timeout=40, explain=log.read_text)
        assert "core.reconcile" in queued_messages("default")[0].read_text()
        assert list(tmp_path.glob("celerybeat-schedule*"))
    finally:
        stop_worker(beat)


@pytest.mark.parametrize("command", ["web", "worker", "beat"])
def test_the_console_script_names_the_process_before_the_settings_load(command, monkeypatch, capsys):
    from config.cli import execute

    monkeypatch.delenv("CLEANROOM_PROCESS", raising=False)
    with pytest.raises(SystemExit) as exited:
        execute(["cleanroom", command, "--help"])

    assert exited.value.code == 0
    assert os.environ["CLEANROOM_PROCESS"] == command
    assert "usage:" in capsys.readouterr().out


def test_a_one_shot_command_leaves_the_process_unnamed_and_an_operators_choice_stands(monkeypatch, capsys):
    from config.cli import execute

    monkeypatch.delenv("CLEANROOM_PROCESS", raising=False)
    with pytest.raises(SystemExit):
        execute(["cleanroom", "ingest", "--help"])
    assert "CLEANROOM_PROCESS" not in os.environ

    monkeypatch.setenv("CLEANROOM_PROCESS", "worker")
    with pytest.raises(SystemExit):
        execute(["cleanroom", "web", "--help"])
    assert os.environ["CLEANROOM_PROCESS"] == "worker"
    capsys.readouterr()
