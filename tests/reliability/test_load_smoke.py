"""A few seconds of bench/load.py's users against a real gunicorn with the production settings:
every request answered without an error, and locust's CSV holds a row for each kind.

locust runs as its own process (it patches sockets and ssl with gevent), as bench/load.py runs it.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from core.roles import Role
from core.tokens import token_issue
from provenance.services.contributors import contributor_get
from provenance.services.datasets import dataset_create, dataset_enrol
from tests.core.factories import user_with_role
from tests.provenance.factories import grant_consent
from tests.support.gunicorn import ROOT, gunicorn_server, hashed_static_path, production_environment
from tests.support.pki import pki_install

pytestmark = pytest.mark.slow

LOCUST = Path(sys.executable).parent / "locust"


def test_five_users_for_a_few_seconds_get_no_error_from_gunicorn(transactional_db, settings, tmp_path, contributor) -> None:
    pki_install(settings, tmp_path / "pki")  # verify reads the trust anchors gunicorn finds there
    # The suite hashes passwords with MD5 for speed; gunicorn's production settings only know
    # Django's own hashers, so this password is hashed as production hashes it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    reviewer = user_with_role("rita", Role.REVIEWER)
    reviewer.set_password("smoke-test-reviewer")
    reviewer.save(update_fields=["password"])
    dataset = dataset_create(slug="load", scopes=["ai_training"])
    dataset_enrol(dataset=dataset, contributor=contributor_get(email="carla@example.com"))
    consent = grant_consent(contributor, "carla@example.com")
    database = connection.settings_dict
    env = production_environment(
        tmp_path,
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        CLEANROOM_TRUSTED_PROXIES="1",
    )

    with gunicorn_server(env, tmp_path) as base_url:
        world = {
            "LOAD_CONTRIBUTOR_TOKEN": token_issue(user=contributor, actor=contributor).key,
            "LOAD_CONSENT_ID": str(consent.pk),
            "LOAD_DATASET": "load",
            "LOAD_REVIEWER": "rita",
            "LOAD_REVIEWER_PASSWORD": "smoke-test-reviewer",
            "LOAD_STATIC_PATH": hashed_static_path(tmp_path),
        }
        done = subprocess.run(
            [str(LOCUST), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", "5", "-r", "5", "-t", "6s",
             "--host", base_url, "--csv", str(tmp_path / "smoke"), "--only-summary", "--stop-timeout", "5"],
            cwd=ROOT, env={**env, **world}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    with open(tmp_path / "smoke_stats.csv") as file:
        stats = {row["Name"]: row for row in csv.DictReader(file)}
    failures = (tmp_path / "smoke_failures.csv").read_text()
    assert set(stats) >= {"verify", "review", "ingest", "baseline", "Aggregated"}, done.stderr[-3000:]
    assert {name: int(row["Failure Count"]) for name, row in stats.items()} == dict.fromkeys(stats, 0), failures
    assert all(int(stats[name]["Request Count"]) > 0 for name in ("verify", "review", "ingest", "baseline"))
