"""checkov's policies over the Dockerfiles and the rendered Kubernetes overlays: zero failed checks;
each deliberate skip carries its reason in the manifest (`checkov.io/skip…` annotations).

checkov lives in its own virtualenv (.venv-tools/, made by scripts/setup.sh) because it would
downgrade packages the project pins."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.support.manifests import DOCKER, ROOT, render, tool

CHECKOV = str(ROOT / ".venv-tools" / "bin" / "checkov")
# Offline: no guideline download from the vendor's API, no policy mapping fetch.
OFFLINE = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}


def _checkov(*args: str) -> list[dict]:
    binary = tool(CHECKOV, "run scripts/setup.sh (it installs checkov==3.3.30 into .venv-tools/)")
    done = subprocess.run(
        [binary, "--quiet", "--skip-download", "-o", "json", *args], capture_output=True, text=True, env=OFFLINE, check=False
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


def _failures(reports: list[dict]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


@pytest.mark.slow
def test_checkov_passes_the_dockerfiles():
    reports = _checkov("--framework", "dockerfile", "-d", str(DOCKER))

    assert _failures(reports) == []
    assert sum(report["summary"]["passed"] for report in reports) > 0


@pytest.mark.slow
@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_checkov_passes_the_rendered_overlay(overlay, tmp_path):
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)))

    reports = _checkov("--framework", "kubernetes", "-f", str(rendered))

    assert _failures(reports) == []
    assert reports[0]["summary"]["passed"] > 100
    skipped = reports[0]["results"].get("skipped_checks", [])
    assert {check["check_id"] for check in skipped} <= {"CKV_K8S_43"}, "every skip is annotated and reasoned in the overlay"
