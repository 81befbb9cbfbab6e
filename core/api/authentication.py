"""`Authorization: Token <key>`, checked against the stored digests (core/tokens.py)."""

from __future__ import annotations

from django.contrib.auth import models as auth
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from core.models import ApiToken
from core.tokens import TokenRefused, token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing and `WWW-Authenticate: Token` challenge; our tokens behind them.
    `request.auth` is the `ApiToken`, so a view can revoke the token a request came with."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[auth.User, ApiToken]:
        try:
            token = token_authenticate(key=key)
        except TokenRefused as refused:
            raise AuthenticationFailed(refused.message, code=refused.code) from None
        return token.user, token
