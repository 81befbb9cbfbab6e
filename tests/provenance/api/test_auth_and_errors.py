"""Authentication (token and session), error shapes, the schema, the docs and the web pages."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from core.api.throttles import ClientScopedRateThrottle
from core.models import ApiToken
from tests.core.factories import PASSWORD
from tests.support.worlds import World

pytestmark = pytest.mark.django_db


def test_a_token_obtained_with_a_password_authenticates_api_requests(world: World, ml_engineer, api: APIClient) -> None:
    obtained = api.post("/api/v1/auth/token/", {"username": "mel", "password": PASSWORD}, format="json")

    assert obtained.status_code == 200
    key = obtained.json()["token"]
    assert ApiToken.objects.get(user=ml_engineer).pk == obtained.json()["token_id"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/snapshots/").json()["count"] == 1


def test_a_wrong_password_gets_no_token(ml_engineer, api: APIClient) -> None:
    response = api.post("/api/v1/auth/token/", {"username": "mel", "password": "guess"}, format="json")

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_request_without_credentials_is_a_401_with_a_token_challenge_not_a_500(world: World, api: APIClient) -> None:
    for url in ("/api/v1/assets/", f"/api/v1/snapshots/{world.snapshot.pk}/", "/api/v1/audit-events/verify/"):
        response = api.get(url)

        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json() == {"error": "Authentication credentials were not provided.", "code": "not_authenticated"}
    assert api.post("/api/v1/ingest/", {}, format="multipart").status_code == 401


def test_an_unknown_token_is_a_401(api: APIClient) -> None:
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = api.get("/api/v1/datasets/")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid token", "code": "invalid_token"}


def test_the_wrong_role_is_a_403_with_a_json_reason(world: World, contributor, client_for) -> None:
    response = client_for(contributor).get("/api/v1/snapshots/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["error"].startswith("this needs one of the roles: ")


def test_a_malformed_json_body_is_a_400_with_a_json_error(operator, client_for) -> None:
    response = client_for(operator).post(
        "/api/v1/datasets/", data='{"slug": "broken", "scopes": [', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["error"]


def test_a_body_of_the_wrong_shape_is_a_400_naming_the_fields(operator, client_for) -> None:
    response = client_for(operator).post("/api/v1/datasets/", {"slug": "x", "scopes": ["telepathy"]}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": 'scopes.0: "telepathy" is not a valid choice.',
        "code": "invalid",
        "fields": {"scopes.0": ['"telepathy" is not a valid choice.']},
    }


def test_nested_field_errors_are_named_by_their_path(operator, client_for) -> None:
    response = client_for(operator).post("/api/v1/datasets/", {"scopes": ["ai_training", "telepathy"]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {
        "slug": ["This field is required."],
        "scopes.1": ['"telepathy" is not a valid choice.'],
    }
    assert response.json()["error"] == "slug: This field is required. (and 1 more)"


def test_an_error_that_names_no_field_is_under_non_field_errors(api: APIClient) -> None:
    response = api.post("/api/v1/auth/token/", {"username": "nobody", "password": "guess"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "Unable to log in with provided credentials.",
        "code": "invalid",
        "fields": {"non_field_errors": ["Unable to log in with provided credentials."]},
    }


def test_a_refusal_by_a_service_keeps_its_status_and_code(world: World, operator, client_for) -> None:
    response = client_for(operator).post("/api/v1/datasets/", {"slug": "portraits", "scopes": ["ai_training"]}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "dataset_exists"


def test_an_unsupported_method_is_a_405(operator, client_for) -> None:
    response = client_for(operator).delete("/api/v1/datasets/")

    assert response.status_code == 405
    assert response.json() == {"error": 'Method "DELETE" not allowed.', "code": "method_not_allowed"}


def test_a_body_type_the_endpoint_does_not_read_is_a_415(api: APIClient) -> None:
    response = api.post("/api/v1/verify/", {"file": "x"}, format="json")

    assert response.status_code == 415
    assert response.json() == {"error": 'Unsupported media type "application/json" in request.', "code": "unsupported_media_type"}


def test_a_throttled_request_is_a_429_saying_when_to_come_back(api: APIClient, monkeypatch) -> None:
    # DRF reads the rates once, when the throttle class is defined.
    monkeypatch.setattr(ClientScopedRateThrottle, "THROTTLE_RATES", {"verify_poll": "1/minute"})
    unknown = "/api/v1/verify/00000000-0000-0000-0000-000000000000/"
    api.get(unknown)

    response = api.get(unknown)

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled" and body["error"].startswith("Request was throttled.")
    assert body["retry_after"] == int(response["Retry-After"]) > 0


def test_a_malformed_id_in_the_path_is_a_404(reviewer, client_for) -> None:
    assert client_for(reviewer).get("/api/v1/snapshots/not-a-uuid/").status_code == 404


def test_the_schema_endpoint_returns_the_openapi_document_as_json(api: APIClient) -> None:
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/ingest/", "/api/v1/snapshots/{id}/prove/", "/api/v1/audit-events/verify/"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/api/v1/ingest/"]["post"]["requestBody"]["content"]


def test_the_docs_page_loads_swagger_ui_from_the_sidecar_and_points_at_the_schema(api: APIClient) -> None:
    response = api.get("/api/v1/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in page
    # Swagger UI's set-up script is served apart from the page (the CSP allows no inline script).
    assert '<script src="/api/v1/docs/?script="></script>' in page
    assert "/api/v1/schema/" in api.get("/api/v1/docs/?script=").content.decode()


def test_the_home_page_is_public_and_links_to_the_docs_and_the_login(client) -> None:
    page = client.get("/").content.decode()

    assert "Cleanroom" in page
    assert 'href="/api/v1/docs/"' in page
    assert 'href="/accounts/login/"' in page


def test_a_person_logs_in_on_the_login_page_and_the_api_knows_them_by_their_session(world: World, compliance, client) -> None:
    login = client.post("/accounts/login/", {"username": "cora", "password": PASSWORD})

    assert (login.status_code, login["Location"]) == (302, "/")
    assert "cora" in client.get("/").content.decode()
    assert client.get("/api/v1/audit-events/verify/").json()["valid"] is True


def test_a_wrong_password_on_the_login_page_shows_the_form_again(compliance, client) -> None:
    response = client.post("/accounts/login/", {"username": "cora", "password": "guess"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_a_session_write_without_a_csrf_token_is_refused(operator) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(operator)

    response = browser.post("/api/v1/datasets/", {"slug": "sneaky", "scopes": ["ai_training"]}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied" and "CSRF" in response.json()["error"]


def test_logging_out_ends_the_session(operator, client) -> None:
    client.force_login(operator)

    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/api/v1/datasets/").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/snapshots/not-a-uuid/", "/api/v1/no-such-endpoint/", "/api/v1/assets/123/review/"])
def test_an_api_url_that_matches_no_route_answers_json_404(api, reviewer, path):
    api.force_authenticate(reviewer)
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_web_pages_keep_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/assets/", "/api/v1/snapshots/", "/api/v1/generation/jobs/", "/api/v1/audit-events/"])
@pytest.mark.parametrize("value", ["\x00", "approved\x00"])
def test_a_list_filter_with_a_nul_byte_is_a_400_naming_it_not_a_500(operator, client_for, path, value):
    # PostgreSQL refuses NUL in text: the filter must be judged before it reaches the query.
    name = "event_type" if "audit-events" in path else "status"

    response = client_for(operator).get(path, {name: value})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and set(response.json()["fields"]) == {name}


@pytest.mark.parametrize("path", ["/api/v1/assets/", "/api/v1/snapshots/", "/api/v1/generation/jobs/"])
def test_a_status_filter_that_is_no_status_is_a_400_not_an_empty_list(operator, client_for, path):
    response = client_for(operator).get(path, {"status": "aproved"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}
