"""The navigation on every page shows exactly the links the user's roles allow, with the web
contract's names and paths (DESIGN.md, "Web contract")."""

from __future__ import annotations

import pytest

from core.roles import Role
from core.users import user_add
from core.web.navigation import NAV_LINKS, PAGE_ROLES, current_path, nav_links
from tests.support.pages import main_nav

pytestmark = pytest.mark.django_db

REVIEW = ("Review queue", "/review/")
SNAPSHOTS = ("Snapshots", "/snapshots/")
REPORTS = ("Reports", "/reports/")
AUDIT_LOG = ("Audit log", "/auditlog/")
MY_IMAGES = ("My images", "/portal/")
UPLOAD = ("Upload", "/portal/upload/")
VERIFY = ("Verify", "/verify/")

EXPECTED = {
    None: [VERIFY],
    "outsider": [VERIFY],
    "contributor": [MY_IMAGES, UPLOAD, VERIFY],
    "reviewer": [REVIEW, SNAPSHOTS, VERIFY],
    "ml_engineer": [SNAPSHOTS, VERIFY],
    "compliance": [SNAPSHOTS, REPORTS, AUDIT_LOG, VERIFY],
    "operator": [AUDIT_LOG, VERIFY],
    "product": [VERIFY],
}


@pytest.mark.parametrize("persona", list(EXPECTED), ids=lambda p: p or "anonymous")
def test_each_persona_sees_exactly_the_links_their_roles_allow(persona, client, request) -> None:
    if persona is not None:
        client.force_login(request.getfixturevalue(persona))

    page = client.get("/").content.decode()

    assert main_nav(page) == EXPECTED[persona]


def test_a_user_with_two_roles_sees_both_roles_links_once_each(compliance, client) -> None:
    user_add(username="cora", role=Role.REVIEWER)
    client.force_login(compliance)

    assert main_nav(client.get("/").content.decode()) == [REVIEW, SNAPSHOTS, REPORTS, AUDIT_LOG, VERIFY]


def test_the_navigation_is_on_error_pages_too(reviewer, client) -> None:
    client.force_login(reviewer)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert main_nav(response.content.decode()) == EXPECTED["reviewer"]


def test_a_deactivated_user_is_logged_out_and_sees_only_verify(reviewer, client) -> None:
    client.force_login(reviewer)
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])

    assert main_nav(client.get("/").content.decode()) == [VERIFY]


def test_each_page_of_the_navigation_needs_the_roles_that_show_its_link() -> None:
    for link in NAV_LINKS:
        if link.roles is None:
            assert link.path not in PAGE_ROLES  # everyone's page: no role to check
        else:
            assert set(PAGE_ROLES[link.path]) == link.roles


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/review/", "/review/"),
        ("/review/assets/5b1f/", "/review/"),
        ("/portal/", "/portal/"),
        ("/portal/upload/", "/portal/upload/"),
        ("/portal/consents/7/", "/portal/"),
        ("/", None),
        ("/accounts/password/", None),
    ],
)
def test_the_current_section_is_the_longest_link_path_the_page_is_under(path, current) -> None:
    everything = list(NAV_LINKS)

    assert current_path(everything, path) == current


def test_the_current_section_is_only_among_the_users_own_links(contributor) -> None:
    assert current_path(nav_links(contributor), "/review/assets/1/") is None
