"""Settings: production refuses insecure defaults and passes Django's deploy checks."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_manage(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A fresh process as an operator starts it: none of this session's settings, nor the
    # browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (which the deploy check rightly refuses).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "CLEANROOM_SECRET_KEY": "k" * 30 + "-production-secret-key-from-the-vault-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cleanroom",
    "CLEANROOM_ALLOWED_HOSTS": "cleanroom.example.org",
}


def test_production_settings_pass_the_deploy_checks(tmp_path):
    done = run_manage({**PRODUCTION, "CLEANROOM_DATA_DIR": str(tmp_path)}, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize("missing", ["CLEANROOM_SECRET_KEY", "DATABASE_URL", "CLEANROOM_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets_and_services(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    done = run_manage({**env, "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and missing in done.stderr


def test_production_reads_the_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(secrets.token_urlsafe(64) + "\n")
    env = {k: v for k, v in PRODUCTION.items() if k != "CLEANROOM_SECRET_KEY"}
    done = run_manage(
        {**env, "CLEANROOM_SECRET_KEY_FILE": str(secret), "CLEANROOM_DATA_DIR": str(tmp_path)},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert done.returncode == 0, done.stderr


def test_a_malformed_boolean_stops_the_process(tmp_path):
    done = run_manage({"CLEANROOM_DEBUG": "maybe", "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "CLEANROOM_DEBUG" in done.stderr


def test_the_embedded_secret_key_lives_in_the_data_folder_not_the_repo(tmp_path):
    done = run_manage({"CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode == 0, done.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_a_token_lifetime_under_an_hour_stops_the_process(tmp_path):
    done = run_manage({"CLEANROOM_TOKEN_TTL_HOURS": "0", "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "CLEANROOM_TOKEN_TTL_HOURS" in done.stderr


def test_a_heartbeat_timeout_under_twice_its_interval_stops_the_process(tmp_path):
    env = {"CLEANROOM_HEARTBEAT_SECONDS": "10", "CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS": "15", "CLEANROOM_DATA_DIR": str(tmp_path)}
    done = run_manage(env, "check")
    assert done.returncode != 0 and "CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS=15" in done.stderr


def test_a_negative_trusted_proxy_count_stops_the_process(tmp_path):
    done = run_manage({"CLEANROOM_TRUSTED_PROXIES": "-1", "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "CLEANROOM_TRUSTED_PROXIES" in done.stderr


def test_a_cache_url_that_is_not_redis_stops_the_process(tmp_path):
    done = run_manage({"CLEANROOM_CACHE_URL": "memcached://127.0.0.1", "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "CLEANROOM_CACHE_URL" in done.stderr


def test_the_embedded_default_shares_throttle_counts_between_processes_through_the_database(tmp_path):
    """`migrate` creates the cache table; a count one process writes, another reads."""
    env = {"CLEANROOM_DATA_DIR": str(tmp_path)}
    assert run_manage(env, "migrate", "-v0").returncode == 0
    write = run_manage(
        env, "shell", "-v0", "-c", "from django.core.cache import cache; cache.set('throttle_auth_192.0.2.1', [1.0], 60)"
    )
    assert write.returncode == 0, write.stderr

    read = run_manage(
        env, "shell", "-v0", "-c", "from django.core.cache import cache; print(cache.get('throttle_auth_192.0.2.1'))"
    )

    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "[1.0]"


def test_a_verify_spool_smaller_than_one_upload_stops_the_process(tmp_path):
    env = {"CLEANROOM_VERIFY_SPOOL_MAX_BYTES": "1000", "CLEANROOM_DATA_DIR": str(tmp_path)}
    done = run_manage(env, "check")
    assert done.returncode != 0 and "CLEANROOM_VERIFY_SPOOL_MAX_BYTES" in done.stderr


def test_production_serves_static_files_collected_at_deploy_under_hashed_names(tmp_path):
    done = run_manage({**PRODUCTION, "CLEANROOM_DATA_DIR": str(tmp_path)}, "collectstatic", "--noinput", "-v0")

    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    assert re.fullmatch(r"css/cleanroom\.[0-9a-f]{12}\.css", manifest["css/cleanroom.css"])
    assert re.fullmatch(r"django_htmx/htmx-2\.min\.[0-9a-f]{12}\.js", manifest["django_htmx/htmx-2.min.js"])
    assert (tmp_path / "static" / f"{manifest['css/cleanroom.css']}.gz").exists()  # WhiteNoise serves it compressed


def test_a_session_shorter_than_a_minute_stops_the_process(tmp_path):
    done = run_manage({"CLEANROOM_SESSION_SECONDS": "5", "CLEANROOM_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "CLEANROOM_SESSION_SECONDS" in done.stderr
