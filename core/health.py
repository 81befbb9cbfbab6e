"""Is this process alive, and can it do its work? One check per dependency, each cheap and
bounded in time, so a probe never hangs on a dead server.

`ready_report()` checks the database (SELECT 1), the broker (a connection; for the embedded
folder broker, that its folder exists), the blob storage (one `exists()` call, which works the
same on local files and S3) and, in a worker whose queues sign (CLEANROOM_SIGNING_QUEUES), that
the signing identity loads. `alive_report()` in a worker reads the file the worker's consumer
keeps fresh (core/liveness.py); elsewhere it asks nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.db import connection
from django.utils.module_loading import import_string

from config.files import PRIVATE_FOLDER_MODE
from core.liveness import check_worker_heartbeat

BROKER_TIMEOUT_SECONDS = 3.0
# A name no blob has (blobs are named by sha256): asking for it costs one HEAD on S3.
BLOB_SENTINEL = "cleanroom-health-check"
# Loads the signing identity; a dotted path because core imports no app (the signer is provenance's).
SIGNER_CHECK = "provenance.c2pa.signer.signer_loads"


@dataclass
class HealthReport:
    checks: dict[str, str] = field(default_factory=dict)  # name → "ok" or what failed

    @property
    def ok(self) -> bool:
        return all(result == "ok" for result in self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result != "ok"]

    def as_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "failed", "checks": self.checks, "failed": self.failed}


def process_kind() -> str:
    """web, worker or beat; `embedded` when unset (one machine, the CLI, the tests)."""
    return os.environ.get("CLEANROOM_PROCESS", "") or "embedded"


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        # The embedded broker is folders in the data folder, made by whichever process starts
        # first (config/celery.py); the data folder itself must be there and writable.
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folder = Path(str(options["data_folder_in"]))
        if not folder.parent.parent.is_dir():
            raise RuntimeError(f"the data folder {folder.parent.parent} of the broker does not exist")
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            Path(str(options[key])).mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise RuntimeError(f"the broker folder {folder} is not writable")
        return
    from kombu import Connection  # imported here: only a real broker needs it

    with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_blobs() -> None:
    storages["blobs"].exists(BLOB_SENTINEL)


def check_signer() -> None:
    import_string(SIGNER_CHECK)()


def _run(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as exc:  # any failure is the answer, named for the operator
        return f"{type(exc).__name__}: {exc}".strip()[:500]
    return "ok"


def worker_signs() -> bool:
    """Whether this worker's queues (CLEANROOM_WORKER_QUEUES) include one whose tasks sign."""
    return bool(set(settings.CLEANROOM_WORKER_QUEUES) & set(settings.CLEANROOM_SIGNING_QUEUES))


def ready_report(*, process: str | None = None) -> HealthReport:
    """Every dependency this process needs to do its work."""
    report = HealthReport()
    report.checks["database"] = _run(check_database)
    report.checks["broker"] = _run(check_broker)
    report.checks["blobs"] = _run(check_blobs)
    if (process or process_kind()) == "worker" and worker_signs():
        report.checks["signer"] = _run(check_signer)
    return report


def alive_report(*, process: str | None = None) -> HealthReport:
    """The process answers; in a worker, its consumer has touched its liveness file lately.
    Nothing outside the process is asked."""
    report = HealthReport(checks={"process": "ok"})
    if (process or process_kind()) == "worker":
        report.checks["worker_heartbeat"] = _run(check_worker_heartbeat)
    return report
