from __future__ import annotations

from typing import Any

from core.api.serializers import AuditVerifySerializer
from core.audit import auditlog_verify
from core.management.base import CheckFailed, JsonCommand


class Command(JsonCommand):
    help = "The tamper-evident audit log: `auditlog verify` recomputes the hash chain."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        self.json_flag(sub.add_parser("verify", help="recompute the chain and report the first bad event"))

    def run(self, **options: Any) -> dict[str, Any]:
        # One action, `verify` (argparse requires it).
        report = auditlog_verify()
        answer = AuditVerifySerializer(report).data
        if not report.valid:
            raise CheckFailed(answer, report.problem or "the audit log is not intact")
        return answer
