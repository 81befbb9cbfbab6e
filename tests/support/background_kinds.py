"""Kinds of background job that exist only for the tests of core/background.py: real runners,
run by the real machinery, whose work is small enough to check exactly."""

from __future__ import annotations

from core.background import register_background_kind
from core.exceptions import ApplicationError
from core.models import BackgroundJob

COUNT = "test_count"
REFUSE = "test_refuse"
BREAK = "test_break"
WATCH = "test_watch"


def count(job: BackgroundJob, progress) -> dict:
    """Counts to params["to"], reporting each step, and returns the sum."""
    to = job.params["to"]
    for done in range(1, to + 1):
        progress(done, to)
    return {"sum": to * (to + 1) // 2}


def refuse(job: BackgroundJob, progress) -> dict:
    progress(1, 3)
    raise ApplicationError("The records changed while you waited; look again.", code="changed")


def crash(job: BackgroundJob, progress) -> dict:
    raise ZeroDivisionError("a programming error")


def watch(job: BackgroundJob, progress) -> dict:
    """Reports progress and returns what the database held after each report."""

    def seen() -> list:
        return list(BackgroundJob.objects.values_list("done", "total").get(pk=job.pk))

    progress(1, 5)
    after_new_total = seen()
    progress(2, 5)
    return {"after_new_total": after_new_total, "after_quick_step": seen()}


def register_test_kinds() -> None:
    for kind, runner in ((COUNT, "count"), (REFUSE, "refuse"), (BREAK, "crash"), (WATCH, "watch")):
        register_background_kind(
            kind,
            label=f"Test job {kind}",
            runner=f"tests.support.background_kinds.{runner}",
            result_template="core/_background_result.html",
        )
