"""`user password USERNAME`: an operator gives a person a password from standard input, so a
reviewer can log in to the web pages without the demo. Django's password validators apply."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from core.audit import audit_events, auditlog_verify
from core.models import EventType
from tests.core.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a quiet harbour at dawn"


def set_password(username: str, stdin: str) -> tuple[int, dict]:
    """Run `user password USERNAME --json` with `stdin`; its exit code and its JSON."""
    out = io.StringIO()
    try:
        call_command("user", "password", username, "--json", stdin=io.StringIO(stdin), stdout=out, stderr=io.StringIO())
    except CommandError as refused:
        return refused.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def test_the_first_line_of_standard_input_becomes_the_password(reviewer) -> None:
    code, answer = set_password("rita", f"{NEW_PASSWORD}\nthe second line is ignored\n")

    assert (code, answer) == (0, {"username": "rita"})
    assert authenticate(username="rita", password=NEW_PASSWORD) == reviewer
    assert authenticate(username="rita", password=PASSWORD) is None


def test_spaces_inside_and_around_the_password_are_kept(reviewer) -> None:
    set_password("rita", f"  {NEW_PASSWORD} \r\n")

    assert authenticate(username="rita", password=f"  {NEW_PASSWORD} ") == reviewer


def test_the_command_reads_the_processes_standard_input_by_default(reviewer, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NEW_PASSWORD}\n"))
    out = io.StringIO()

    call_command("user", "password", "rita", "--json", stdout=out)

    assert json.loads(out.getvalue()) == {"username": "rita"}
    assert authenticate(username="rita", password=NEW_PASSWORD) == reviewer


@pytest.mark.parametrize(
    ("stdin", "reason"),
    [
        ("short\n", "too short"),
        ("password123\n", "too common"),
        ("48213907561\n", "entirely numeric"),
        ("rita@example.org\n", "too similar to the email address"),
    ],
)
def test_a_password_the_validators_refuse_is_not_set(reviewer, stdin, reason) -> None:
    code, answer = set_password("rita", stdin)

    assert code == 1
    assert answer["code"] == "invalid_password"
    assert reason in answer["error"]
    assert authenticate(username="rita", password=PASSWORD) == reviewer


def test_empty_standard_input_sets_no_password(reviewer) -> None:
    code, answer = set_password("rita", "")

    assert (code, answer["code"]) == (1, "no_password")
    assert authenticate(username="rita", password=PASSWORD) == reviewer


def test_an_unknown_user_is_refused(db) -> None:
    code, answer = set_password("nobody", f"{NEW_PASSWORD}\n")

    assert (code, answer["code"]) == (1, "unknown_user")


def test_setting_a_password_is_in_the_audit_log_without_the_password(reviewer) -> None:
    set_password("rita", f"{NEW_PASSWORD}\n")

    [event] = audit_events(subject_type="user", subject_id="rita", event_type=EventType.USER_PASSWORD_SET)
    assert event.actor == "system"
    assert NEW_PASSWORD not in json.dumps(event.details)
    assert auditlog_verify().valid


def test_setting_a_password_ends_the_users_other_web_sessions(reviewer, client) -> None:
    client.force_login(reviewer)
    assert client.get("/").wsgi_request.user == reviewer

    set_password("rita", f"{NEW_PASSWORD}\n")

    assert not client.get("/").wsgi_request.user.is_authenticated
