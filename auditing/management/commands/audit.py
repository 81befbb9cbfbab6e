from __future__ import annotations

import sys
import time

from tqdm import tqdm

from auditing.api.serializers import AssetAuditSerializer
from auditing.selectors import dataset_audit_report
from auditing.services import audits_request
from core.exceptions import ApplicationError
from core.management.base import JsonCommand
from provenance.models import Asset, AssetStatus
from provenance.selectors import dataset_get


class Command(JsonCommand):
    help = "Audit a dataset's assets on the `audit` queue: `audit --dataset SLUG [--wait] [--timeout S]`."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, metavar="SLUG")
        parser.add_argument("--wait", action="store_true", help="wait until no asset of the dataset is auditing")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (with --wait)")

    def run(self, **options):
        dataset = dataset_get(slug=options["dataset"])
        ids = list(Asset.objects.filter(memberships__dataset=dataset).values_list("pk", flat=True))
        queued = audits_request(asset_ids=ids)
        if options["wait"]:
            self._wait(dataset, options["timeout"])
        assets = AssetAuditSerializer(dataset_audit_report(dataset=dataset), many=True).data
        return {"dataset": dataset.slug, "queued": queued, "assets": assets}

    def _wait(self, dataset, timeout: float) -> None:
        auditing = Asset.objects.filter(memberships__dataset=dataset, status=AssetStatus.AUDITING)
        total = auditing.count()
        deadline = time.monotonic() + timeout
        with tqdm(total=total, unit="asset", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            while (left := auditing.count()) > 0:
                bar.n = total - left
                bar.refresh()
                if time.monotonic() > deadline:
                    raise ApplicationError(
                        f"{left} asset(s) still auditing after {timeout:.0f} s: is an `audit` worker running?",
                        code="audit_timeout",
                    )
                time.sleep(0.2)
            bar.n = total
            bar.refresh()
