"""The account pages: log in, log out, change my password; sessions that end; CSRF on every
form. (The same journeys in a real browser, by keyboard, are in tests/web/.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from core.audit import audit_events
from core.models import EventType
from tests.core.factories import PASSWORD

pytestmark = pytest.mark.django_db

PASSWORD_PAGE = "/accounts/password/"
NEW_PASSWORD = "a quiet harbour at dawn"


def change(client: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, again: str | None = None):
    fields = {"old_password": old, "new_password1": new, "new_password2": new if again is None else again}
    return client.post(PASSWORD_PAGE, fields)


def test_an_anonymous_visitor_is_sent_to_log_in_and_back(client) -> None:
    response = client.get(PASSWORD_PAGE)

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/accounts/password/")


def test_changing_the_password_keeps_this_session_and_replaces_the_old_password(reviewer, client) -> None:
    client.force_login(reviewer)

    response = change(client)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert "Your password has been changed." in client.get("/").content.decode()
    assert client.get(PASSWORD_PAGE).status_code == 200  # still logged in
    assert authenticate(username="rita", password=NEW_PASSWORD) == reviewer
    assert authenticate(username="rita", password=PASSWORD) is None


def test_changing_the_password_ends_the_users_other_sessions(reviewer, client) -> None:
    elsewhere = Client()
    elsewhere.force_login(reviewer)
    client.force_login(reviewer)

    change(client)

    assert elsewhere.get(PASSWORD_PAGE).status_code == 302


def test_the_change_is_in_the_audit_log_by_the_user_themself(reviewer, client) -> None:
    client.force_login(reviewer)

    change(client)

    [event] = audit_events(subject_type="user", subject_id="rita", event_type=EventType.USER_PASSWORD_SET)
    assert event.actor == "rita"


@pytest.mark.parametrize(
    ("old", "new", "again", "message"),
    [
        ("a wrong guess", NEW_PASSWORD, None, "That is not your current password."),
        (PASSWORD, "short", None, "This password is too short."),
        (PASSWORD, "password123", None, "This password is too common."),
        (PASSWORD, NEW_PASSWORD, "something else entirely", "The two new passwords are not the same."),
    ],
)
def test_a_refused_change_explains_why_and_changes_nothing(reviewer, client, old, new, again, message) -> None:
    client.force_login(reviewer)

    response = change(client, old, new, again)

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert 'role="alert"' in page
    assert 'aria-invalid="true"' in page
    assert authenticate(username="rita", password=PASSWORD) == reviewer
    assert not audit_events(event_type=EventType.USER_PASSWORD_SET).exists()


def test_a_form_posted_without_its_csrf_token_is_refused_with_a_page_that_says_why(reviewer) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)

    response = change(browser)

    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert authenticate(username="rita", password=PASSWORD) == reviewer


def test_logging_out_takes_a_post_a_link_cannot_log_anyone_out(reviewer, client) -> None:
    client.force_login(reviewer)

    assert client.get("/accounts/logout/").status_code == 405
    assert client.get(PASSWORD_PAGE).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get(PASSWORD_PAGE).status_code == 302


def test_a_session_ends_with_the_browser_and_after_a_working_day_at_most(reviewer, client, settings) -> None:
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD})

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    session = Session.objects.get(session_key=cookie.value)
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert abs(session.expire_date - (timezone.now() + timedelta(hours=8))) < timedelta(minutes=1)


def test_logging_in_brings_the_person_back_to_the_page_they_asked_for(reviewer, client) -> None:
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD, "next": PASSWORD_PAGE})

    assert (response.status_code, response["Location"]) == (302, PASSWORD_PAGE)


def test_logging_in_never_sends_the_person_to_another_site(reviewer, client) -> None:
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD, "next": "https://evil.example/"})

    assert (response.status_code, response["Location"]) == (302, "/")
