"""Logging in, out and changing one's password in a real browser, by keyboard where a person
would; every page checked by axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.core.factories import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a quiet harbour at dawn"


def log_in_by_keyboard(page: Page, tab_to, username: str, password: str) -> None:
    """From any page: Tab to `Log in`, press Enter, type into the form, press Enter."""
    tab_to(page.get_by_role("link", name="Log in"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Username", exact=True)).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_a_reviewer_logs_in_by_keyboard_alone(page: Page, reviewer, tab_to, axe, screenshot) -> None:
    page.goto("/")
    screenshot(page, "home-anonymous")

    log_in_by_keyboard(page, tab_to, "rita", PASSWORD)

    expect(page).to_have_url("/")
    expect(page.get_by_role("heading", name="Welcome, rita")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    axe(page)


def test_the_login_page_has_the_contracts_fields_and_button(page: Page, axe, screenshot) -> None:
    page.goto("/accounts/login/")

    expect(page.get_by_role("textbox", name="Username", exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    axe(page)
    screenshot(page, "login")


def test_a_wrong_password_is_explained_in_an_alert(page: Page, reviewer, axe, screenshot) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Username", exact=True).fill("rita")
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("Your username and password did not match. Please try again.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    axe(page)
    screenshot(page, "login-wrong-password")


def test_log_out_ends_the_session(page: Page, compliance, sign_in, tab_to) -> None:
    sign_in(compliance)
    page.goto("/")

    tab_to(page.get_by_role("button", name="Log out"))
    page.keyboard.press("Enter")

    expect(page).to_have_url("/")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(["Verify"])
    page.goto("/accounts/password/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))


def test_an_anonymous_visitor_is_sent_to_log_in_and_then_to_the_page_they_asked_for(page: Page, reviewer) -> None:
    page.goto("/accounts/password/")

    expect(page).to_have_url("/accounts/login/?next=/accounts/password/")
    page.get_by_role("textbox", name="Username", exact=True).fill("rita")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url("/accounts/password/")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()


def test_changing_my_password_makes_the_old_one_stop_working(page: Page, reviewer, sign_in, tab_to, axe, screenshot) -> None:
    sign_in(reviewer)
    page.goto("/")
    tab_to(page.get_by_role("link", name="Change password"))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Current password")).to_be_focused()
    axe(page)

    page.keyboard.type(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("status")).to_have_text("Your password has been changed.")
    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Username", exact=True).fill("rita")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome, rita")).to_be_visible()


def test_a_refused_new_password_says_why_next_to_the_field(page: Page, reviewer, sign_in, axe, screenshot) -> None:
    sign_in(reviewer)
    page.goto("/accounts/password/")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("password123")
    page.get_by_label("New password again").fill("password123")
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("alert")).to_contain_text("Your password has not been changed")
    new_password = page.get_by_label("New password", exact=True)
    expect(new_password).to_have_attribute("aria-invalid", "true")
    expect(new_password).to_have_accessible_description(re.compile("This password is too common"))
    axe(page)
    screenshot(page, "password-refused")
