"""Every page × every role, with the exact status code each gets (issue 11: "every page × every
role in the permission matrix"). A page a role may not see answers 403 to a signed-in user and
sends an anonymous visitor to log in (302); a page of one person's own (a job) is 404 to others.
One table, so a new page without its row fails `test_every_page_has_a_row`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from auditing.models import Finding
from core.background import background_start
from tests.auditing.factories import flagged_finding
from tests.support.background_kinds import COUNT, register_test_kinds

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "contributor", "reviewer", "ml_engineer", "compliance", "operator", "product", "outsider")
LOGIN = 302


@dataclass(frozen=True)
class Page:
    name: str  # the URL pattern's name
    url: Callable[[dict], str]  # built from the objects the fixture made
    codes: dict[str, int]  # persona → status code
    method: str = "get"  # an action's form post: "post"


def everyone(code: int, **others: int) -> dict[str, int]:
    return {persona: others.get(persona, code) for persona in PERSONAS}


def only(*personas: str, ok: int = 200) -> dict[str, int]:
    return {p: LOGIN if p == "anonymous" else ok if p in personas else 403 for p in PERSONAS}


PAGES = (
    Page("home", lambda o: "/", everyone(200)),
    Page("login", lambda o: "/accounts/login/", everyone(302, anonymous=200)),  # signed in: sent home
    Page("password_change", lambda o: "/accounts/password/", everyone(200, anonymous=LOGIN)),
    Page("review-queue", lambda o: "/review/", only("reviewer")),
    Page("review-asset", lambda o: f"/review/assets/{o['finding'].asset_id}/", only("reviewer")),
    Page("review-bulk", lambda o: "/review/bulk/", only("reviewer")),
    # A decision without its form: the reviewer is told what is missing; nothing changes.
    Page("review-bulk", lambda o: "/review/bulk/", only("reviewer", ok=400), method="post"),
    # An image follows who may see its asset, the API's rule (Asset.objects.visible_to): its
    # contributor, reviewers, compliance and operators; to anyone else it does not exist.
    Page(
        "asset-image",
        lambda o: f"/images/assets/{o['finding'].asset_id}/",
        everyone(404, anonymous=LOGIN, contributor=200, reviewer=200, compliance=200, operator=200),
    ),
    Page("protected-work-image", lambda o: f"/images/protected/{o['work_id']}/", only("reviewer", ok=404)),
    Page("background-job", lambda o: f"/tasks/{o['job'].pk}/", everyone(404, anonymous=LOGIN, reviewer=200)),
    Page("auditlog", lambda o: "/auditlog/", only("compliance", "operator")),
    Page("auditlog-decisions", lambda o: "/auditlog/decisions.csv", only("compliance", "operator")),
    # Starting the check sends its starter to the job's page.
    Page("auditlog-verify", lambda o: "/auditlog/verify/", only("compliance", "operator", ok=302), method="post"),
)
# Not pages a person opens: the API (its own matrix: tests/provenance/api/test_permission_matrix.py),
# its schema and documentation, and the log-out and error handlers.
NOT_PAGES = {"logout"}


@pytest.fixture
def objects(world, contributor, reviewer, settings) -> dict:
    register_test_kinds()
    finding: Finding = flagged_finding(settings, contributor, world.dataset, world.consent, seed=7)
    return {
        "finding": finding,
        "work_id": "00000000-0000-0000-0000-000000000000",  # none exists: reviewers get 404, others never get that far
        "job": background_start(kind=COUNT, actor=reviewer, params={"to": 1}),
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_role_gets_exactly_its_status_code(page, objects, personas):
    answers = {}
    for persona in PERSONAS:
        client = Client()
        if persona != "anonymous":
            client.force_login(personas[persona])
        answers[persona] = getattr(client, page.method)(page.url(objects)).status_code

    assert answers == page.codes


def _page_names(patterns, prefix: str = "") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("api/"):
                continue
            names |= _page_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_every_page_has_a_row():
    assert _page_names(get_resolver().url_patterns) - NOT_PAGES == {page.name for page in PAGES}
