"""Web pages answer errors with a page a person can read (the API keeps its JSON errors:
tests/provenance/api/test_auth_and_errors.py)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory

from core.views import bad_request, server_error
from tests.support.pages import main_nav

pytestmark = pytest.mark.django_db


def test_a_missing_page_says_so_in_plain_words_with_the_navigation(client) -> None:
    response = client.get("/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page and 'href="/"' in page
    assert main_nav(page) == [("Verify", "/verify/")]


def test_a_server_error_is_a_calm_page_that_needs_no_database(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/somewhere/"))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_a_bad_request_is_a_page_for_a_person_and_json_for_the_api(client) -> None:
    request = client.get("/").wsgi_request
    page = bad_request(request, SuspiciousOperation("nope"))
    request.path = "/api/v1/datasets/"
    api = bad_request(request, SuspiciousOperation("nope"))

    assert (page.status_code, api.status_code) == (400, 400)
    assert "Something was wrong with that request" in page.content.decode()
    assert json.loads(api.content)["code"] == "bad_request"
