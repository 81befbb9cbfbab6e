"""A worker's liveness (core/liveness.py): a real worker keeps its liveness file fresh from its own
timer, `cleanroom health` in a worker passes while it does and fails, naming worker_heartbeat,
once the worker stops (SIGSTOP: hung, not dead)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.workers import ROOT, celery_worker, wait_until, worker_environment

pytestmark = pytest.mark.django_db
# One-second ticks, so the file is stale (3 intervals) three seconds after the last one.
QUICK = {"CLEANROOM_PROCESS": "worker", "CLEANROOM_WORKER_LIVENESS_SECONDS": "1"}


def _health(tmp_path, *args: str, **env: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "manage.py", "health", *args, "--json"],
        cwd=ROOT, env=worker_environment(tmp_path, **env), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def _age(path) -> float:
    return time.time() - path.stat().st_mtime


@pytest.mark.slow
def test_a_running_worker_is_alive_and_a_stopped_one_fails_its_liveness_probe(tmp_path):
    alive = tmp_path / "worker.alive"
    with celery_worker(tmp_path, "audit", **QUICK) as worker:
        wait_until(alive.exists, timeout=60, explain=worker.log)
        touched = alive.stat().st_mtime
        wait_until(lambda: alive.stat().st_mtime > touched, timeout=5, explain=worker.log)

        code, report = _health(tmp_path, **QUICK)
        assert code == 0, report
        assert report["checks"] == {"process": "ok", "worker_heartbeat": "ok"}

        os.kill(worker.process.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: _age(alive) > 3.2, timeout=10, explain=lambda: f"age {_age(alive):.1f} s")
            code, report = _health(tmp_path, **QUICK)
        finally:
            os.kill(worker.process.pid, signal.SIGCONT)

        assert code == 1
        assert report["failed"] == ["worker_heartbeat"]
        assert "last touched" in report["checks"]["worker_heartbeat"]
        assert "limit 3 s" in report["checks"]["worker_heartbeat"]
        # Running again, it touches the file again: the next probe passes.
        wait_until(lambda: _age(alive) < 1.5, timeout=10, explain=worker.log)
    assert not alive.exists(), "a worker that shut down cleanly leaves no liveness file behind"


def test_a_worker_whose_liveness_file_is_missing_is_not_alive(tmp_path):
    code, report = _health(tmp_path, CLEANROOM_PROCESS="worker")

    assert code == 1
    assert report["failed"] == ["worker_heartbeat"]
    assert "worker.alive is missing" in report["checks"]["worker_heartbeat"]


def test_a_worker_liveness_file_older_than_three_intervals_is_stale(tmp_path):
    alive = tmp_path / "elsewhere.alive"
    alive.touch()
    os.utime(alive, (time.time() - 31, time.time() - 31))
    env = {"CLEANROOM_PROCESS": "worker", "CLEANROOM_WORKER_LIVENESS_FILE": str(alive)}

    code, report = _health(tmp_path, **env)
    assert code == 1
    assert "limit 30 s" in report["checks"]["worker_heartbeat"]

    os.utime(alive, (time.time() - 25, time.time() - 25))
    code, report = _health(tmp_path, **env)
    assert code == 0, report


@pytest.mark.parametrize("process", ["beat", pytest.param("", id="embedded")])
def test_liveness_outside_a_worker_reads_no_liveness_file(tmp_path, process):
    code, report = _health(tmp_path, CLEANROOM_PROCESS=process)

    assert code == 0, report
    assert report["checks"] == {"process": "ok"}
