from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config.files import PRIVATE_FOLDER_MODE


class Command(BaseCommand):
    help = (
        "The web process: gunicorn on config.wsgi:application (CLEANROOM_WEB_BIND, _WORKERS, _TIMEOUT), "
        "its access log on stdout. --dev: Django's development server for the embedded demo."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--bind", help="HOST:PORT (default: CLEANROOM_WEB_BIND)")
        parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: CLEANROOM_WEB_WORKERS)")
        parser.add_argument("--dev", action="store_true", help="Django's runserver, static files included")

    def handle(self, *args: Any, **options: Any) -> None:
        bind = options["bind"] or settings.CLEANROOM_WEB_BIND
        if options["dev"]:
            call_command("runserver", bind, insecure_serving=True)
            return
        workers = options["workers"] or settings.CLEANROOM_WEB_WORKERS
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, not {workers}", returncode=2)
        # Each gunicorn worker writes its request metrics here; a scrape adds them up. A fresh
        # folder per start: files of a previous run's workers would count twice.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cleanroom-metrics-")
        os.chmod(os.environ["PROMETHEUS_MULTIPROC_DIR"], PRIVATE_FOLDER_MODE)
        os.environ["CLEANROOM_PROCESS"] = "web"
        # This checkout's code, whatever else is on the path (an installed copy of the package).
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(settings.BASE_DIR), os.environ.get("PYTHONPATH")]))
        argv = [
            sys.executable, "-m", "gunicorn",
            "--chdir", str(settings.BASE_DIR),
            "--config", "python:config.gunicorn",
            "--bind", bind,
            "--workers", str(workers),
            "--timeout", str(settings.CLEANROOM_WEB_TIMEOUT),
            "--graceful-timeout", str(settings.CLEANROOM_WEB_TIMEOUT),
            "--access-logfile", "-",
            "config.wsgi:application",
        ]  # fmt: skip
        sys.stdout.flush()
        sys.stderr.flush()
        # exec: gunicorn's master takes this process's id, so the container's TERM reaches it
        # (graceful: workers finish their requests within the timeout).
        os.execv(sys.executable, argv)  # noqa: S606 (a fixed argument list, no shell)
