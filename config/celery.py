"""The Celery app. Queues: `default` (light work), `audit` (CPU auditors), `gpu` (training and
generation). The embedded default broker runs on files in the data folder (no server);
production sets CELERY_BROKER_URL to RabbitMQ or Redis."""

from __future__ import annotations

import logging
import os
from logging.handlers import WatchedFileHandler

from celery import Celery
from celery.signals import after_setup_logger, before_task_publish, task_postrun, task_prerun

from core.liveness import LivenessFile
from core.logs import add_request_id_to_task, enter_task, leave_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("cleanroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task sent during a web request carries the request's id; the worker's lines for it show it.
before_task_publish.connect(add_request_id_to_task, weak=False)
task_prerun.connect(enter_task, weak=False)
task_postrun.connect(leave_task, weak=False)
# Every worker keeps its liveness file fresh from its own timer (`cleanroom health` reads it).
app.steps["consumer"].add(LivenessFile)


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs) -> None:
    # kombu's filesystem transport expects its folders to exist before the first message.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@after_setup_logger.connect
def _log_to_the_logfile(logger: logging.Logger, logfile: str | None = None, **kwargs) -> None:
    """`celery worker --logfile FILE` (scripts/run.sh): the worker's lines go to FILE.

    Celery gives the root logger a handler for FILE only when it has none, and Django's LOGGING
    has already given it one (stderr), so FILE stayed empty and every line went to the terminal.
    The root logger writes to FILE instead, in LOGGING's format. Without --logfile: stderr, as
    LOGGING says (the containers' workers)."""
    if not logfile:
        return
    handler = WatchedFileHandler(logfile, encoding="utf-8")
    handler.setFormatter(next((h.formatter for h in logger.handlers if h.formatter), None))
    logger.handlers = [handler]
