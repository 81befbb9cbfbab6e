"""Log lines as one JSON object each, carrying the id of the request (and task) they belong to.

The request id comes from `X-Request-ID` (when it is a sane token) or is made here; it rides in
a contextvar, so every line logged while the request runs carries it, and into the headers of
every Celery task sent meanwhile, so the worker's lines for that task carry it too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# The task header that carries the id from the web process to the worker.
TASK_HEADER = "cleanroom_request_id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)


def request_id_from(header: str | None) -> str:
    """The client's id when it is a sane token (it ends up in logs and headers), else a new one."""
    if header and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ContextFilter(logging.Filter):
    """Puts the current request and task ids on every record (None outside of one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "task_id": getattr(record, "task_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


# --- Celery: carry the id into the task, restore it in the worker ---------------------------------
def add_request_id_to_task(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """before_task_publish: a task sent during a request carries the request's id."""
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}


def enter_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """task_prerun: the worker's lines for this task carry its id and its request's id."""
    context = getattr(task, "request", None)
    # Celery merges custom message headers into the task's request context; older protocols keep
    # them under `headers`.
    request_id = getattr(context, TASK_HEADER, None) or (getattr(context, "headers", None) or {}).get(TASK_HEADER)
    if task_id is None:
        return
    _task_tokens[task_id] = (request_id_var.set(request_id), task_id_var.set(task_id))


def leave_task(task_id: str | None = None, **kwargs: Any) -> None:
    """task_postrun: back to no request and no task."""
    tokens = _task_tokens.pop(task_id or "", None)
    if tokens is not None:
        request_id_var.reset(tokens[0])
        task_id_var.reset(tokens[1])
