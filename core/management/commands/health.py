from __future__ import annotations

from typing import Any

from core.health import alive_report, ready_report
from core.management.base import CheckFailed, JsonCommand


class Command(JsonCommand):
    help = (
        "Exit 0 when this process is alive (in a worker: its liveness file is fresh; with --ready: "
        "when the database, the broker, the blob storage and, in a worker whose queues sign, the "
        "signing identity answer), 1 when not. For exec probes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ready", action="store_true", help="check every dependency, not only liveness")

    def run(self, **options: Any) -> dict[str, Any]:
        report = ready_report() if options["ready"] else alive_report()
        if not report.ok:
            raise CheckFailed(report.as_dict(), "not ready: " + ", ".join(report.failed))
        return report.as_dict()
