from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

QUEUES = ("default", "audit", "gpu")


def queue_list(text: str) -> list[str]:
    queues = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise CommandError(f"unknown queue {', '.join(unknown) or '(none given)'}: choose from {', '.join(QUEUES)}", returncode=2)
    return queues


def worker_concurrency(queues: list[str], given: int | None) -> int:
    """--concurrency, else the largest per-queue setting among the queues; a worker on `gpu`
    runs one task per GPU, so one process, whatever else it serves."""
    if "gpu" in queues:
        return 1
    if given is not None:
        return given
    return max(settings.CLEANROOM_WORKER_CONCURRENCY[queue] for queue in queues)


def celery_argv(*, queues: list[str], concurrency: int, beat: bool, logfile: str | None, loglevel: str) -> list[str]:
    prefixed = ",".join(f"{settings.CLEANROOM_QUEUE_PREFIX}{queue}" for queue in queues)
    argv = ["worker", "--queues", prefixed, "--concurrency", str(concurrency), "--loglevel", loglevel]
    argv += ["--hostname", f"{'-'.join(queues)}@%h"]
    if beat:
        argv += ["--beat", "--schedule", str(beat_schedule_file())]
    if logfile:
        argv += ["--logfile", logfile]
    return argv


def beat_schedule_file() -> Path:
    return Path(settings.DATA_DIR) / "celerybeat-schedule"


class Command(BaseCommand):
    help = "A Celery worker for the given queues (default, audit, gpu); --beat embeds the scheduler."
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queues", help="comma-separated: default, audit, gpu (default: CLEANROOM_WORKER_QUEUES)")
        parser.add_argument("--concurrency", type=int, help="processes (default: CLEANROOM_WORKER_CONCURRENCY_<QUEUE>)")
        parser.add_argument("--beat", action="store_true", help="also run the periodic scheduler (one machine only)")
        parser.add_argument("--logfile", help="write the worker's log lines to this file instead of stderr")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args: Any, **options: Any) -> None:
        given = options["queues"]
        queues = queue_list(given if given is not None else ",".join(settings.CLEANROOM_WORKER_QUEUES))
        if given is not None and "CLEANROOM_WORKER_QUEUES" in os.environ and queues != settings.CLEANROOM_WORKER_QUEUES:
            # The probes read the environment, not this flag: they would check the wrong queues.
            self.stderr.write(
                f"worker: --queues {','.join(queues)} differs from CLEANROOM_WORKER_QUEUES="
                f"{','.join(settings.CLEANROOM_WORKER_QUEUES)}, which `cleanroom health --ready` reads"
            )
        if options["concurrency"] is not None and options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1", returncode=2)
        concurrency = worker_concurrency(queues, options["concurrency"])
        if "gpu" in queues:
            self.stderr.write("worker: the gpu queue runs one task per GPU: concurrency 1 (run one worker per GPU)")
        os.environ["CLEANROOM_PROCESS"] = os.environ.get("CLEANROOM_PROCESS") or "worker"
        from config.celery import app  # imported here: the settings are loaded by now

        argv = celery_argv(
            queues=queues, concurrency=concurrency, beat=options["beat"], logfile=options["logfile"], loglevel=options["loglevel"]
        )
        app.worker_main(argv)
