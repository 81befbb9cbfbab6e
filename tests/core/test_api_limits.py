"""Hostile request bodies and query strings are refused with the API's error shape, never a 500:
JSON nested too deep or too large, and page sizes beyond the maximum."""

from __future__ import annotations

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from core.audit import audit_append
from core.models import EventType

pytestmark = pytest.mark.django_db
TOKEN = "/api/v1/auth/token/"
DATASETS = "/api/v1/datasets/"
EVENTS = "/api/v1/audit-events/"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [65, 2_000, 200_000])
def test_deeply_nested_json_to_the_anonymous_token_endpoint_is_a_400(api: APIClient, depth: int) -> None:
    response = api.post(TOKEN, data=nested(depth), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep" and response.json()["error"]


def test_deeply_nested_json_inside_an_object_is_a_400_on_an_authenticated_endpoint(operator, client_for) -> None:
    body = '{"slug": "deep", "scopes": ' + nested(200_000) + "}"

    response = client_for(operator).post(DATASETS, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"


def test_json_at_the_depth_limit_is_still_read(operator, client_for, settings) -> None:
    scopes = "[" * (settings.CLEANROOM_JSON_MAX_DEPTH - 1) + '"ai_training"' + "]" * (settings.CLEANROOM_JSON_MAX_DEPTH - 1)
    body = '{"slug": "deep", "scopes": ' + scopes + "}"

    response = client_for(operator).post(DATASETS, data=body, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scopes.0"}  # the serializer read it and judged its shape


def test_a_json_body_over_the_size_limit_is_a_413_with_the_error_shape(operator, client_for, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"slug": "big", "scopes": ["ai_training"], "name": "' + "x" * 2000 + '"}'

    response = client_for(operator).post(DATASETS, data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large" and "1000 bytes" in response.json()["error"]


def _events(n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_append(actor="tester", event_type=EventType.DATASET_CREATED, subject=("dataset", str(i)), details={})


@pytest.mark.parametrize("limit", [str(2**63), str(2**64 + 5), "9" * 5000])
def test_a_huge_limit_is_capped_not_a_500(compliance, client_for, limit: str) -> None:
    _events(3)

    response = client_for(compliance).get(EVENTS, {"limit": limit})

    assert response.status_code == 200
    assert response.json()["count"] >= 3 and len(response.json()["results"]) == response.json()["count"]


def test_no_page_is_larger_than_the_maximum_page_size(compliance, client_for, settings) -> None:
    settings.CLEANROOM_API_MAX_PAGE_SIZE = 5
    _events(8)

    page = client_for(compliance).get(EVENTS, {"limit": 1_000_000}).json()

    assert page["count"] >= 8 and len(page["results"]) == 5
    assert "limit=5" in page["next"]


def test_a_huge_offset_is_an_empty_page(compliance, client_for) -> None:
    _events(2)

    response = client_for(compliance).get(EVENTS, {"offset": str(2**63), "limit": "2"})

    assert response.status_code == 200 and response.json()["results"] == []
