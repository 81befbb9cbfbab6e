"""The test suite: real PostgreSQL on this machine unless DATABASE_URL says otherwise."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cleanroom")
# A data folder (and so an embedded broker folder) per pytest process: pytest-xdist's workers
# inherit the environment of the process that started them, so an inherited folder is replaced
# unless this very worker made it (its own subprocesses inherit and keep it).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if "CLEANROOM_DATA_DIR" not in os.environ or (_WORKER and os.environ.get("CLEANROOM_TEST_DATA_DIR_WORKER") != _WORKER):
    os.environ["CLEANROOM_DATA_DIR"] = tempfile.mkdtemp(prefix=f"cleanroom-test-{_WORKER or 'main'}-")
    os.environ["CLEANROOM_TEST_DATA_DIR_WORKER"] = _WORKER
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from config.settings.base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests alone

# Tests never run collectstatic: WhiteNoise and the live server read static files through the
# finders (and the plain StaticFilesStorage keeps their names unhashed).
STATIC_ROOT = None  # type: ignore[assignment]

# Most tests are about one service; the pipeline tests switch this on and run real workers.
CLEANROOM_AUDIT_ON_INGEST = False

# One test database per run (dropped at the end), so runs side by side never collide.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CLEANROOM_TEST_DATABASE") or f"test_cleanroom_{os.getpid()}"}  # noqa: F405
