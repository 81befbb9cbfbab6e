"""A real `celery worker` beside a transactional test, on the embedded `filesystem://` broker.

The worker shares the test database and the test's folder (CLEANROOM_DATA_DIR = tmp_path: the
blobs, the signing identity, the indexes and the model directories the test's settings point
at). Its broker folder, tmp_path/broker, is a link to this process's own broker folder, so a
message this process sends (after commit) is one the worker can take, and one a test deletes
from that folder is lost for good, as when a worker dies holding it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def broker_folder() -> Path:
    """This process's embedded broker folder (its queue files live in `queue/`)."""
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]).parent
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return folder


def queued_messages(queue: str, task_id: str | None = None) -> list[Path]:
    """The messages waiting on `queue` (those of one task id, when given)."""
    messages = sorted((broker_folder() / "queue").glob(f"*.{queue}.msg"))
    return [m for m in messages if task_id is None or f'"id": "{task_id}"' in m.read_text()]


def lose_messages(queue: str, task_id: str | None = None) -> int:
    """Delete the messages waiting on `queue` (of one task id, when given): what a broker that
    loses them would do."""
    messages = queued_messages(queue, task_id)
    for message in messages:
        message.unlink()
    return len(messages)


def worker_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker (or a command) run as another process against this test's
    PostgreSQL database and data folder; `extra` adds or overrides settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_"))
    }
    database = connection.settings_dict
    env.update(
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        DJANGO_SETTINGS_MODULE="config.settings.base",
        CLEANROOM_DATA_DIR=str(tmp_path),
        HF_HUB_OFFLINE="1",
        OMP_THREAD_LIMIT="1",
        **extra,
    )
    return env


# A real broker for the tests that are about one (the embedded folder broker is the default).
REDIS_BROKER = "redis://127.0.0.1:6379/15"


def gpu_worker_environment(tmp_path: Path, prefix: str, **extra: str) -> dict[str, str]:
    """A CPU-run `gpu` worker on Redis, its queues named with `prefix` so runs never share them."""
    return worker_environment(
        tmp_path,
        CLEANROOM_PKI_DIR=str(tmp_path / "pki"),
        CLEANROOM_GENERATION_DEVICE="cpu",
        CELERY_BROKER_URL=REDIS_BROKER,
        CLEANROOM_QUEUE_PREFIX=prefix,
        **extra,
    )


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()[-6000:]

    def kill(self) -> None:
        """SIGKILL the worker and its pool child, as a node lost mid-task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def celery_worker(tmp_path: Path, queue: str, **extra: str) -> Iterator[Worker]:
    """Run one worker (concurrency 1) on `queue` until the block ends."""
    if connection.vendor != "postgresql":  # the worker is another process: it needs a server
        raise RuntimeError("a real worker needs the PostgreSQL test database")
    link = tmp_path / "broker"
    if not link.exists():
        link.symlink_to(broker_folder(), target_is_directory=True)
    log_path = tmp_path / f"worker-{queue}.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
             "-n", f"{queue}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=INFO"],
            cwd=ROOT, env=worker_environment(tmp_path, **extra), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield Worker(worker, log_path)
    finally:
        stop_worker(worker)


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM a worker started in its own session (and its pool), SIGKILL if it lingers."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def wait_until(done: Callable[[], bool], *, timeout: float, explain: Callable[[], str] = lambda: "", every: float = 0.25) -> None:
    """Poll `done` every `every` seconds (shorter to catch a state that lasts only a moment)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s\n{explain()}")
        time.sleep(every)


def reconcile_until(done: Callable[[], bool], *, timeout: float, explain: Callable[[], str] = lambda: "") -> float:
    """Run the reconciler's periodic task (`core.reconcile`, as beat runs it, at the real time)
    until `done()`; returns the seconds that took."""
    from core.tasks import reconcile

    started = time.monotonic()
    wait_until(lambda: reconcile() is not None and done(), timeout=timeout, explain=explain)
    return time.monotonic() - started
