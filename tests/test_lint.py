"""Pyflakes-level lint over the whole project: an undefined name fails here before it fails in use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_code_has_no_undefined_names_unused_imports_or_unsorted_imports():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "config", "core", "provenance", "auditing", "training", "generation", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
