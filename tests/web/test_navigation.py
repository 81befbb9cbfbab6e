"""The navigation in a real browser: a `nav` landmark with exactly the links each role allows
(the web contract's names), a visible focus, and a layout that fits a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.core.factories import PASSWORD

pytestmark = pytest.mark.browser

LINKS = {
    "reviewer": ["Review queue", "Snapshots", "Verify"],
    "compliance": ["Snapshots", "Reports", "Audit log", "Verify"],
    "contributor": ["My images", "Upload", "Verify"],
}
USERNAMES = {"reviewer": "rita", "compliance": "cora", "contributor": "carla"}
PHONE = {"width": 360, "height": 740}


@pytest.mark.parametrize("persona", list(LINKS))
def test_after_logging_in_by_keyboard_the_navigation_has_exactly_the_roles_links(
    persona, page: Page, request, tab_to, axe
) -> None:
    request.getfixturevalue(persona)
    page.goto("/accounts/login/")
    # The username field has the focus when the page opens: wait for it before typing (typing
    # first, on a loaded machine, sent the letters nowhere and the log-in failed).
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(USERNAMES[persona])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    navigation = page.get_by_role("navigation")
    # The log-in hashes the password (deliberately slow): give it time on a loaded machine.
    expect(navigation.get_by_role("link")).to_have_text(LINKS[persona], timeout=15_000)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    axe(page)
    tab_to(navigation.get_by_role("link", name=LINKS[persona][0]))  # the navigation is reachable by keyboard


def test_an_anonymous_visitor_sees_only_verify(page: Page, axe) -> None:
    page.goto("/")

    expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(["Verify"])
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    axe(page)


def test_the_navigation_links_go_to_the_contracts_addresses(page: Page, compliance, sign_in) -> None:
    sign_in(compliance)
    page.goto("/")

    links = page.get_by_role("navigation").get_by_role("link")

    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == ["/snapshots/", "/reports/", "/auditlog/", "/verify/"]


def test_the_keyboard_focus_is_always_visible(page: Page, reviewer, sign_in, tab_to) -> None:
    sign_in(reviewer)
    page.goto("/")
    focusables = [
        page.get_by_role("link", name="Skip to main content"),
        page.get_by_role("navigation").get_by_role("link", name="Review queue"),
        page.get_by_role("link", name="Change password"),
        page.get_by_role("button", name="Log out"),
    ]

    for element in focusables:
        tab_to(element)
        outline = element.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth")
        assert outline == "solid 3px", f"{element}: {outline}"


def test_the_skip_link_moves_the_focus_to_the_page_content(page: Page, reviewer, sign_in) -> None:
    sign_in(reviewer)
    page.goto("/")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_visible()
    page.keyboard.press("Enter")

    expect(page.get_by_role("main")).to_be_focused()


def test_on_a_phone_the_page_fits_the_screen_with_no_sideways_scrolling(page: Page, compliance, sign_in, axe, screenshot) -> None:
    sign_in(compliance)
    page.set_viewport_size(PHONE)
    page.goto("/")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(LINKS["compliance"])
    axe(page)
    screenshot(page, "home-compliance-phone")
    page.goto("/accounts/password/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_logged_in_home_page_lists_what_the_person_can_do(page: Page, compliance, sign_in, axe, screenshot) -> None:
    sign_in(compliance)
    page.goto("/")

    expect(page.get_by_role("heading", name="Welcome, cora")).to_be_visible()
    expect(page.get_by_role("term")).to_have_text(LINKS["compliance"])
    axe(page)
    screenshot(page, "home-compliance")


def test_a_missing_page_is_a_friendly_page_with_the_navigation(page: Page, contributor, sign_in, axe, screenshot) -> None:
    sign_in(contributor)

    response = page.goto("/no-such-page/")

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(LINKS["contributor"])
    axe(page)
    screenshot(page, "not-found")
