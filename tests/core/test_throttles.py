"""The API's throttles count per client: the socket's address, or the address the configured
trusted proxies vouch for. A client that rotates its own X-Forwarded-For header gains nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.core.factories import PASSWORD

pytestmark = pytest.mark.django_db
TOKEN = "/api/v1/auth/token/"
VERIFY = "/api/v1/verify/"


def allowed(scope: str) -> int:
    """How many requests the scope's rate lets through in its window."""
    number, _ = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope])
    return number


def forged(n: int) -> str:
    """A different made-up X-Forwarded-For on every request, as a guessing script would send."""
    return f"203.0.113.{n % 250}, 198.51.{n // 250}.{n % 250}"


def test_rotating_x_forwarded_for_does_not_escape_the_token_endpoint_throttle(ml_engineer, api: APIClient) -> None:
    limit = allowed("auth")
    answers = [
        api.post(TOKEN, {"username": "mel", "password": PASSWORD}, format="json", HTTP_X_FORWARDED_FOR=forged(n)).status_code
        for n in range(limit + 1)
    ]

    assert answers == [200] * limit + [429]


def test_rotating_x_forwarded_for_does_not_escape_the_anonymous_verify_throttle(api: APIClient) -> None:
    limit = allowed("verify")
    answers = [
        api.post(
            VERIFY, {"file": SimpleUploadedFile("x.png", b"not an image")}, format="multipart", HTTP_X_FORWARDED_FOR=forged(n)
        ).status_code
        for n in range(limit + 1)
    ]

    assert answers == [400] * limit + [429]


def test_behind_a_trusted_proxy_each_client_is_counted_by_the_address_the_proxy_saw(
    ml_engineer, api: APIClient, settings
) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 1
    limit = allowed("auth")
    body = {"username": "mel", "password": PASSWORD}
    # The ingress appends the address it saw; whatever the client wrote before it is forgeable.
    for n in range(limit):
        assert (
            api.post(
                TOKEN, body, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{forged(n)}, 192.0.2.7"
            ).status_code
            == 200
        )

    blocked = api.post(TOKEN, body, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.7")
    neighbour = api.post(TOKEN, body, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.8")

    assert blocked.status_code == 429 and "Retry-After" in blocked
    assert neighbour.status_code == 200
