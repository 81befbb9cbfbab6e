"""Request ids: taken from X-Request-ID when sane, echoed back, on every JSON log line of the
request, and on the worker's lines for the tasks the request queued."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from core.logs import ContextFilter, JsonFormatter
from core.models import BackgroundJob
from tests.workers import celery_worker, wait_until

pytestmark = pytest.mark.django_db


def test_a_sane_request_id_is_kept_and_echoed():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.01_x")

    assert response["X-Request-ID"] == "lb-7f3a.01_x"


@pytest.mark.parametrize(
    "header", ["", "x" * 65, "evil\r\nSet-Cookie", "spaces are not ok"], ids=["empty", "long", "crlf", "spaces"]
)
def test_an_insane_request_id_is_replaced_by_a_fresh_one(header):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=header)

    assert response["X-Request-ID"] != header
    assert len(response["X-Request-ID"]) == 32


def test_the_json_formatter_writes_one_object_per_line_with_the_exception():
    formatter, record_filter = JsonFormatter(), ContextFilter()
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.getLogger("cleanroom.test").makeRecord(
            "cleanroom.test", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=__import__("sys").exc_info()
        )
    record_filter.filter(record)

    line = formatter.format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "cleanroom.test"
    assert entry["message"] == "failed here"
    assert entry["time"].endswith("+00:00")
    assert (entry["request_id"], entry["task_id"]) == (None, None)
    assert "ValueError: bad" in entry["exception"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_logs_with_that_requests_id_in_the_worker(tmp_path, compliance):
    browser = Client()
    browser.force_login(compliance)
    with celery_worker(tmp_path, "default", CLEANROOM_LOG_FORMAT="json", CLEANROOM_LOG_LEVEL="INFO") as worker:
        response = browser.post("/auditlog/verify/", HTTP_X_REQUEST_ID="req-e2e-0001")
        assert response.status_code == 302
        job = BackgroundJob.objects.get()

        def entries() -> list[dict]:
            return [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]

        def logged_for_the_task() -> list[dict]:
            return [e for e in entries() if e["task_id"] and e["request_id"] == "req-e2e-0001"]

        wait_until(lambda: bool(logged_for_the_task()), timeout=60, explain=worker.log)

    job.refresh_from_db()
    assert job.status == "succeeded", worker.log()
    assert {e["task_id"] for e in logged_for_the_task()} == {job.task_id}
    # Lines of the worker outside any task carry no request id.
    assert any(e["request_id"] is None for e in entries())
