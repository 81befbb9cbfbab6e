"""Password guessing on the log-in page and the token endpoint: failed log-ins are counted per
account and per client address, and past the limit both are locked for a while, whatever
X-Forwarded-For a client sends and even for the right password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from core.models import LoginFailures
from tests.core.factories import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


def limits() -> tuple[int, int]:
    guard = settings.CLEANROOM_LOGIN_LOCKOUT
    return guard["MAX_FAILURES_PER_ACCOUNT"], guard["MAX_FAILURES_PER_ADDRESS"]


def log_in(client: Client, username: str, password: str, n: int = 0, remote: str = "127.0.0.1"):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
    )


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lockout_ends() -> None:
    """Move every recorded failure back past the lockout, as if that much time had gone by."""
    LoginFailures.objects.update(
        last_failure_at=F("last_failure_at") - timedelta(seconds=settings.CLEANROOM_LOGIN_LOCKOUT["SECONDS"] + 1)
    )


def test_after_too_many_wrong_passwords_the_account_is_locked_even_for_the_right_one(compliance, client: Client) -> None:
    per_account, _ = limits()
    wrong = [log_in(client, "cora", f"guess {n}", n).status_code for n in range(per_account)]

    locked = log_in(client, "cora", PASSWORD, per_account)

    assert wrong == [200] * per_account
    assert locked.status_code == 429 and not logged_in(client)
    page = locked.content.decode()
    assert "Too many failed log-ins for this account" in page and 'role="alert"' in page
    assert int(locked["Retry-After"]) == settings.CLEANROOM_LOGIN_LOCKOUT["SECONDS"]


def test_the_account_lock_holds_from_another_address_too(compliance) -> None:
    per_account, _ = limits()
    for n in range(per_account):
        log_in(Client(), "cora", "guess", n, remote="192.0.2.1")

    elsewhere = Client()
    assert log_in(elsewhere, "cora", PASSWORD, remote="192.0.2.99").status_code == 429
    assert not logged_in(elsewhere)


def test_once_the_lockout_has_expired_the_right_password_works_again(compliance, client: Client) -> None:
    per_account, _ = limits()
    for n in range(per_account + 3):
        log_in(client, "cora", "guess", n)

    lockout_ends()

    assert log_in(client, "cora", PASSWORD).status_code == 302 and logged_in(client)


def test_attempts_while_locked_do_not_extend_the_lockout(compliance, client: Client) -> None:
    per_account, _ = limits()
    for n in range(per_account):
        log_in(client, "cora", "guess", n)
    last_failure = LoginFailures.objects.get(kind="account").last_failure_at

    assert log_in(client, "cora", "guess again").status_code == 429
    assert LoginFailures.objects.get(kind="account").last_failure_at == last_failure


def test_a_successful_log_in_clears_the_accounts_failures(compliance, client: Client) -> None:
    per_account, _ = limits()
    for n in range(per_account - 1):
        log_in(client, "cora", "guess", n)
    assert log_in(client, "cora", PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    for n in range(per_account - 1):
        assert log_in(client, "cora", "guess", n).status_code == 200
    assert log_in(client, "cora", PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out_whatever_header_it_sends(compliance, client: Client) -> None:
    _, per_address = limits()
    for n in range(per_address):
        assert log_in(client, f"user{n}", "guess", n).status_code == 200

    locked = log_in(client, "cora", PASSWORD, per_address)
    other_address = Client()

    assert locked.status_code == 429 and not logged_in(client)
    assert "Too many failed log-ins from your network address" in locked.content.decode()
    assert log_in(other_address, "cora", PASSWORD, remote="192.0.2.50").status_code == 302


def test_successful_log_ins_from_one_address_never_lock_it(compliance, client: Client) -> None:
    _, per_address = limits()
    for _ in range(per_address + 1):
        assert log_in(client, "cora", PASSWORD).status_code == 302
        client.post("/accounts/logout/")


def test_the_token_endpoint_shares_the_accounts_lockout(compliance, api: APIClient, client: Client) -> None:
    per_account, _ = limits()
    for n in range(per_account):
        log_in(client, "cora", "guess", n)

    refused = api.post(TOKEN, {"username": "cora", "password": PASSWORD}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert refused.status_code == 429
    assert refused.json()["code"] == "login_locked" and "Too many failed log-ins" in refused.json()["error"]
    assert int(refused["Retry-After"]) > 0


def test_wrong_passwords_on_the_token_endpoint_lock_the_login_page_too(compliance, api: APIClient, client: Client) -> None:
    per_account, _ = limits()
    for n in range(per_account):
        wrong = api.post(TOKEN, {"username": "cora", "password": "guess"}, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert wrong.status_code == 400

    assert log_in(client, "cora", PASSWORD).status_code == 429
