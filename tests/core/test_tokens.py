"""API tokens: the database keeps only a digest of each, and each one ends, when it expires or
when it is revoked (through the API or the command line)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from core.audit import audit_events, auditlog_verify
from core.models import ApiToken, EventType
from tests.core.factories import PASSWORD

pytestmark = pytest.mark.django_db


def obtain(username: str = "mel") -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def status_with(key: str) -> int:
    """The status of a request that any role may make, sent with `key` as its token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/datasets/").status_code


def cli(*args: str) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def token_table_values() -> list[str]:
    """Every value of every column of every table whose name speaks of tokens: what a copy of
    the database, or a local user who can read its file, would hold."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if "token" in table:
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a table name from the schema)
                values += [str(value) for row in cursor.fetchall() for value in row if value is not None]
    return values


def test_nothing_read_from_the_token_table_authenticates(ml_engineer) -> None:
    keys = [obtain(), cli("user", "token", "mel")["token"]]
    assert [status_with(key) for key in keys] == [200, 200]

    stored = token_table_values()

    assert stored, "the tokens are stored somewhere"
    assert not any(key in value for key in keys for value in stored)
    assert [value for value in stored if status_with(value) != 401] == []


def test_a_token_answers_with_its_id_and_expiry_and_is_shown_only_once(ml_engineer, settings) -> None:
    settings.CLEANROOM_TOKEN_TTL_HOURS = 2
    response = APIClient().post("/api/v1/auth/token/", {"username": "mel", "password": PASSWORD}, format="json")

    answer = response.json()
    token = ApiToken.objects.get(pk=answer["token_id"])
    assert answer["username"] == "mel"
    assert token.user == ml_engineer and token.expires_at - token.created_at == timedelta(hours=2)
    assert answer["expires_at"] == token.expires_at.isoformat().replace("+00:00", "Z")


def test_each_token_command_issues_a_new_token_and_the_earlier_ones_keep_working(ml_engineer) -> None:
    first, second = cli("user", "token", "mel"), cli("user", "token", "mel")

    assert set(first) >= {"username", "token", "token_id", "expires_at"} and first["username"] == "mel"
    assert first["token"] != second["token"]
    assert status_with(first["token"]) == status_with(second["token"]) == 200


def test_a_token_past_its_lifetime_is_refused(ml_engineer) -> None:
    key = obtain()
    assert status_with(key) == 200

    ApiToken.objects.filter(user=ml_engineer).update(expires_at=timezone.now() - timedelta(seconds=1))

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/datasets/")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]


def test_logging_out_revokes_the_token_presented_and_only_that_one(ml_engineer) -> None:
    leaving, staying = obtain(), obtain()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {leaving}")

    assert client.delete("/api/v1/auth/token/").status_code == 204

    assert status_with(leaving) == 401
    assert status_with(staying) == 200
    assert client.delete("/api/v1/auth/token/").status_code == 401


def test_logging_out_needs_the_token_itself(ml_engineer, client_for) -> None:
    key = obtain()

    assert client_for(ml_engineer).delete("/api/v1/auth/token/").status_code == 401
    assert status_with(key) == 200


def test_the_operator_revokes_a_users_tokens_from_the_command_line(ml_engineer, reviewer) -> None:
    one, other = cli("user", "token", "mel"), cli("user", "token", "mel")
    ritas = obtain("rita")

    only_one = cli("user", "revoke-tokens", "mel", "--token-id", str(one["token_id"]))
    assert only_one == {"username": "mel", "revoked": [one["token_id"]]}
    assert (status_with(one["token"]), status_with(other["token"])) == (401, 200)

    assert cli("user", "revoke-tokens", "mel") == {"username": "mel", "revoked": [other["token_id"]]}
    assert status_with(other["token"]) == 401
    assert status_with(ritas) == 200


def test_revoking_another_users_token_by_id_is_refused(ml_engineer, reviewer) -> None:
    ritas = cli("user", "token", "rita")
    out = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("user", "revoke-tokens", "mel", "--token-id", str(ritas["token_id"]), "--json", stdout=out)

    assert refused.value.returncode == 1
    assert json.loads(out.getvalue())["code"] == "unknown_token"
    assert status_with(ritas["token"]) == 200


def test_the_token_of_a_deactivated_user_is_refused(ml_engineer) -> None:
    key = obtain()
    ml_engineer.is_active = False
    ml_engineer.save(update_fields=["is_active"])

    assert status_with(key) == 401


def test_issuing_and_revoking_tokens_are_in_the_audit_log(ml_engineer) -> None:
    issued = cli("user", "token", "mel")
    obtain()
    cli("user", "revoke-tokens", "mel")

    events = audit_events(subject_type="user", subject_id="mel")
    issues = [event for event in events if event.event_type == EventType.USER_TOKEN_ISSUED]
    revocations = [event for event in events if event.event_type == EventType.USER_TOKEN_REVOKED]
    assert [event.actor for event in issues] == ["system", "mel"]
    assert issues[0].details["token_id"] == issued["token_id"]
    assert len(revocations) == 1 and len(revocations[0].details["token_ids"]) == 2
    assert auditlog_verify().valid


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_plaintext_tokens_of_an_older_release_which_keep_working(ml_engineer) -> None:
    """An install upgraded from DRF's `authtoken`: its keys authenticate after the upgrade, and
    the table that held them in plaintext is gone."""
    plaintext = "0123456789abcdef0123456789abcdef01234567"
    executor = MigrationExecutor(connection)
    # Every app's latest, not core's alone: going back unapplies other apps' migrations that
    # depend on a later core one (provenance's portal uploads need core's background jobs).
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("core", "0005_more_event_types")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                'CREATE TABLE "authtoken_token" ("key" varchar(40) PRIMARY KEY, "created" timestamp with time zone NOT NULL,'
                ' "user_id" integer NOT NULL UNIQUE)'
            )
            cursor.execute('INSERT INTO "authtoken_token" VALUES (%s, %s, %s)', [plaintext, timezone.now(), ml_engineer.pk])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    assert "authtoken_token" not in connection.introspection.table_names()
    assert status_with(plaintext) == 200
    assert plaintext not in token_table_values()
