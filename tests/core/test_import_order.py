"""DRF resolves the authentication, parser and pagination classes named in settings while
`rest_framework.views` is still being imported; ours live under `core.api`, so that package
must not import `rest_framework.views` at module level, or the first import of DRF's views
fails with a circular import (as it did in a fresh web process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.web_process import ROOT


@pytest.mark.parametrize("first", ["rest_framework.views", "rest_framework.generics", "core.api.authentication"])
def test_drf_views_import_first_in_a_fresh_process(first, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.base")
    script = f"import django; django.setup(); import {first}; import rest_framework.views; print('imported')"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr[-2000:]
