"""The OpenAPI schema's error responses, declared where they come from.

The errors the framework answers are a property of the view, not of each endpoint's author
remembering them, so `AutoSchema` (drf-spectacular's, the `DEFAULT_SCHEMA_CLASS`) adds them to
every operation from its authenticators, permissions, throttles, body and path: 401 where it
reads credentials, 403 where it checks a role or a session's CSRF token, 400/413/415 where it
reads a body, 404 where the path names an object, 429 where it is throttled. A view declares
the refusals of its own rules (`core.api.error_responses(409)`, an explicit 400 or 404) with
`extend_schema`; what it declares wins over the defaults here. Every error is `Error`
(`core.api.serializers.ErrorSerializer`), the body `core.api.errors.exception_handler` answers.
`tests/core/test_api_schema_fuzz.py` checks the schema against the answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny

from core.api.serializers import ErrorSerializer


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS = {
    400: _error("malformed request or refused by a rule"),
    403: _error("the caller lacks the role, or a rule forbids this caller (`permission_denied`)"),
    404: _error("no such object visible to the caller"),
    409: _error("conflicts with the object's state"),
    413: _error("the upload is larger than the server accepts (`too_large`)"),
    429: _error("too many failed log-ins: locked for a while (`login_locked`, `retry_after`, Retry-After)"),
    503: _error(
        "not now: no room for the work (`verify_busy`, try again after Retry-After seconds), or the server cannot do "
        "this until its operator configures it (`trust_anchors_missing`)"
    ),
}

# What the framework answers, by status; see the module's docstring for when each applies.
FRAMEWORK_ERRORS = {
    400: _error("the body cannot be parsed (`parse_error`, `json_too_deep`) or a field is invalid (`invalid`, `fields`)"),
    401: _error(
        "no credentials (`not_authenticated`), or a token that is unknown, expired or revoked, or whose user is "
        "inactive (`invalid_token`, `token_expired`, `token_revoked`, `user_inactive`)"
    ),
    403: _error("the caller lacks the role, or a session write lacks its CSRF token (`permission_denied`)"),
    404: _error("no such object visible to the caller (`unknown_<what>`), or a malformed id (`not_found`)"),
    413: _error("the body, apart from its files, is larger than the server accepts (`too_large`)"),
    415: _error("a body type the endpoint does not read (`unsupported_media_type`)"),
    429: _error("too many requests (`throttled`): come back after `retry_after` seconds (also in Retry-After)"),
}


class AutoSchema(openapi.AutoSchema):
    def _framework_errors(self) -> set[int]:
        view, method = self.view, self.method
        authenticators = view.get_authenticators()
        permissions = view.get_permissions()
        codes: set[int] = set()
        if authenticators:
            codes.add(401)  # credentials that are sent are checked even where none are needed
        if not any(isinstance(permission, AllowAny) for permission in permissions):
            codes.add(403)
        elif method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators):
            codes.add(403)  # a session's unsafe request without its CSRF token
        if method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes |= {400, 413, 415}
        if "{" in self.path:
            codes.add(404)
        if view.get_throttles():
            codes.add(429)
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in sorted(self._framework_errors()):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(FRAMEWORK_ERRORS[code], str(code), direction=direction)
        return dict(sorted(responses.items()))
