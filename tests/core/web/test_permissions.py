"""The page-permission helper every web view uses: an anonymous visitor is sent to log in and
brought back; a signed-in user without the page's role gets a friendly 403 page, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.views import View

from core.roles import Role
from core.views import permission_denied
from core.web.permissions import RoleRequiredMixin, role_required, signin_required
from tests.support.pages import main_nav

pytestmark = pytest.mark.django_db


@role_required(Role.REVIEWER, Role.COMPLIANCE)
def for_reviewers_and_compliance(request):
    return HttpResponse("the page")


@signin_required
def for_anyone_signed_in(request):
    return HttpResponse("the page")


class ForContributors(RoleRequiredMixin, View):
    required_roles = (Role.CONTRIBUTOR,)

    def get(self, request):
        return HttpResponse("the page")


def get(path: str, user) -> RequestFactory:
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    return request


@pytest.mark.parametrize("view", [for_reviewers_and_compliance, for_anyone_signed_in, ForContributors.as_view()])
def test_an_anonymous_visitor_is_sent_to_log_in_and_brought_back(view) -> None:
    response = view(get("/somewhere/?page=2", None))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/somewhere/%3Fpage%3D2"


@pytest.mark.parametrize("persona", ["reviewer", "compliance"])
def test_a_user_with_one_of_the_roles_gets_the_page(persona, request) -> None:
    response = for_reviewers_and_compliance(get("/somewhere/", request.getfixturevalue(persona)))

    assert (response.status_code, response.content) == (200, b"the page")


@pytest.mark.parametrize("persona", ["contributor", "ml_engineer", "operator", "outsider"])
def test_a_user_without_the_role_is_refused(persona, request) -> None:
    with pytest.raises(PermissionDenied):
        for_reviewers_and_compliance(get("/somewhere/", request.getfixturevalue(persona)))


def test_the_class_based_form_refuses_the_wrong_role_and_lets_the_right_one_in(reviewer, contributor) -> None:
    with pytest.raises(PermissionDenied):
        ForContributors.as_view()(get("/somewhere/", reviewer))

    assert ForContributors.as_view()(get("/somewhere/", contributor)).status_code == 200


def test_signin_required_lets_any_signed_in_user_in_even_without_a_role(outsider) -> None:
    assert for_anyone_signed_in(get("/somewhere/", outsider)).status_code == 200


def test_role_required_without_roles_is_a_mistake_caught_at_import() -> None:
    with pytest.raises(TypeError):
        role_required()


def test_a_refusal_is_a_friendly_403_page_with_the_users_navigation(contributor, client) -> None:
    client.force_login(contributor)
    request = client.get("/").wsgi_request  # a request as the middleware left it: user, session

    response = permission_denied(request, PermissionDenied("this page is for: reviewer"))

    page = response.content.decode()
    assert response.status_code == 403
    assert "You do not have access to this page" in page
    assert "carla" in page
    assert ("My images", "/portal/") in main_nav(page)


def test_an_api_url_refused_outside_drf_answers_json(client) -> None:
    request = client.get("/").wsgi_request
    request.path = "/api/v1/anything/"

    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
