"""The habits that keep the code one way, run by the suite: ruff's rule set (pyproject.toml),
one layout (`ruff format --check`), mypy over the services and selectors, and no model change
without its migration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)


def test_the_code_passes_ruffs_rule_set():
    done = _run("-m", "ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_laid_out_by_ruff_format():
    done = _run("-m", "ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_services_and_selectors_pass_mypy():
    # The files, plugins and settings module come from pyproject.toml's [tool.mypy].
    done = _run("-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_model_change_has_its_migration():
    done = _run("manage.py", "makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
