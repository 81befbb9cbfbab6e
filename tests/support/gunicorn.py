"""The production web process as an operator starts it (`cleanroom web`: gunicorn on
config.wsgi:application) with the production settings, on a free loopback port, against a
given database and data folder (the schema fuzz over HTTP, the load smoke test and bench/load.py).

No Django is imported here: a caller outside the suite (a benchmark) uses it as it is.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# A production secret for a server that lives as long as one test (50+ characters, as required).
TEST_SECRET_KEY = "test-only-secret-key-for-a-gunicorn-of-the-suite-0123456789abcdef"


def hashed_static_path(data_dir: Path) -> str:
    """The URL of a stylesheet from collectstatic's manifest (what production serves)."""
    manifest = json.loads((data_dir / "static" / "staticfiles.json").read_text())["paths"]
    name = next(name for name in sorted(manifest) if name.endswith(".css"))
    return f"/static/{manifest[name]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """What an operator sets for the web process: production settings, this database and folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        CLEANROOM_PROCESS="web",
        CLEANROOM_SECRET_KEY=TEST_SECRET_KEY,
        DATABASE_URL=database_url,
        CLEANROOM_ALLOWED_HOSTS="127.0.0.1",
        CLEANROOM_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    return env


@contextmanager
def gunicorn_server(env: dict[str, str], log_dir: Path, *, workers: int = 2, ready_path: str = "/healthz") -> Iterator[str]:
    """collectstatic (production serves the hashed manifest), then gunicorn until the block
    ends; yields its base URL once `ready_path` answers."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"collectstatic failed:\n{done.stderr[-4000:]}")
    port = free_port()
    log_path = log_dir / f"gunicorn-{port}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "web", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(server, f"{base_url}{ready_path}", log_path)
        yield base_url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _wait_until_ready(server: subprocess.Popen, url: str, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the web process exited ({server.returncode}):\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=30, allow_redirects=False).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still loading the app
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the web process did not answer {url} within {timeout} s:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
