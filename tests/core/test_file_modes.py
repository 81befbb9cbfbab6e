"""What the platform writes is readable by its own user only: every process starts with the
umask 077, whatever umask it was started with, so the data folder is 0700 and the database (with
its -wal and -shm), the secret key and the rest are 0600."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# The modes a freshly started process reports about the files it made: the database is still
# open, so SQLite's -wal and -shm exist beside it.
REPORT = """
import json, os, stat
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.contrib.auth.models import User
call_command("migrate", verbosity=0)
User.objects.create(username="someone")
database = connection.settings_dict["NAME"]
paths = {"data folder": settings.DATA_DIR, "secret key": settings.DATA_DIR / "secret_key", "database": database,
         "wal": database + "-wal", "shm": database + "-shm"}
print(json.dumps({name: oct(stat.S_IMODE(os.stat(path).st_mode)) for name, path in paths.items() if os.path.exists(path)}))
"""


def _started_with_a_permissive_umask() -> None:
    os.umask(0o022)


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_started_with_a_permissive_umask,
    )


def test_the_embedded_database_its_wal_and_the_data_folder_are_private(tmp_path):
    data_dir = tmp_path / "data"

    done = _run(["manage.py", "shell", "-v0", "-c", REPORT], data_dir)

    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout)
    assert modes == {"data folder": "0o700", "secret key": "0o600", "database": "0o600", "wal": "0o600", "shm": "0o600"}


def test_a_data_folder_made_by_an_older_release_is_closed_at_start(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)

    done = _run(["manage.py", "check"], data_dir)

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "entry_point",
    [
        pytest.param("config.wsgi", id="web"),
        # `celery -A config worker` and `celery -A config beat` import the package first.
        pytest.param("config", id="worker and beat"),
        pytest.param("config.cli", id="command line"),
    ],
)
def test_every_process_sets_the_umask_when_it_starts(tmp_path, entry_point):
    done = _run(["-c", f"import os, {entry_point}; print(oct(os.umask(0)))"], tmp_path / "data")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0o77"
