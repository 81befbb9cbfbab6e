"""API tokens (services): issued with a random key that is shown once, stored as its SHA-256
only, valid until they expire (`CLEANROOM_TOKEN_TTL_HOURS`) or are revoked.

A copy of the database, or a local user who can read its file, learns no key: the key has 256
random bits, so its digest cannot be turned back into it, and a digest presented as a token is
just an unknown key. Issuing and revoking are recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import models as auth
from django.db import transaction
from django.utils import timezone

from core.audit import audit_append
from core.exceptions import ApplicationError, NotFound
from core.models import ApiToken, EventType
from core.roles import Actor

KEY_BYTES = 32


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # the only copy: never stored, shown to the caller once


class TokenRefused(ApplicationError):
    def __init__(self, message: str, *, code: str):
        super().__init__(message, code=code, status=401)


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_issue(*, user: auth.User, actor: Actor) -> IssuedToken:
    """A new token for `user`, alongside any they hold; `actor` is the user logging in, or the
    operator at the command line (None)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        digest=token_digest(key),
        created_at=now,
        expires_at=now + timedelta(hours=settings.CLEANROOM_TOKEN_TTL_HOURS),
    )
    audit_append(
        actor=actor,
        event_type=EventType.USER_TOKEN_ISSUED,
        subject=("user", user.get_username()),
        details={"token_id": token.pk, "expires_at": token.expires_at},
    )
    return IssuedToken(token=token, key=key)


def token_authenticate(*, key: str) -> ApiToken:
    """The token whose key this is, with its user, if it may still be used; else TokenRefused."""
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(key)).first()
    if token is None:
        raise TokenRefused("invalid token", code="invalid_token")
    if token.revoked_at is not None:
        raise TokenRefused("this token was revoked: log in again", code="token_revoked")
    if token.expires_at <= timezone.now():
        raise TokenRefused("this token expired: log in again", code="token_expired")
    if not token.user.is_active:
        raise TokenRefused("the token's user is inactive", code="user_inactive")
    return token


@transaction.atomic
def token_revoke(*, user: auth.User, actor: Actor, token_id: int | None = None) -> list[int]:
    """Revoke one of `user`'s tokens (`token_id`), or every one still live; return the ids revoked.
    A token already revoked or expired is left as it is."""
    tokens = ApiToken.objects.select_for_update().filter(user=user)
    if token_id is not None:
        tokens = tokens.filter(pk=token_id)
        if not tokens.exists():
            raise NotFound(f"{user.get_username()!r} has no token {token_id}", code="unknown_token")
    now = timezone.now()
    revoked = sorted(tokens.filter(revoked_at__isnull=True, expires_at__gt=now).values_list("pk", flat=True))
    if revoked:
        ApiToken.objects.filter(pk__in=revoked).update(revoked_at=now)
        audit_append(
            actor=actor,
            event_type=EventType.USER_TOKEN_REVOKED,
            subject=("user", user.get_username()),
            details={"token_ids": revoked},
        )
    return revoked
