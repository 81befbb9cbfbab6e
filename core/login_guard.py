"""Password guessing: failed log-ins counted per account and per client address, and a lockout.

Both ways in, the log-in page (core/forms.py) and the token endpoint (core/api/serializers.py),
authenticate through `login_authenticate`. Past `MAX_FAILURES_PER_ACCOUNT` failures for one
username, or `MAX_FAILURES_PER_ADDRESS` from one client (core/client_ip.py), within `SECONDS`
of each other, that account or address is refused, even with the right password, until
`SECONDS` after its last failure (`CLEANROOM_LOGIN_LOCKOUT`).

Each attempt is counted before the password is checked, under a row lock, so parallel guesses
cannot slip past the limit together; a success gives its count back. Attempts refused while
locked are not counted, so retrying does not push the end of a lockout further away.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from core.client_ip import client_identity
from core.exceptions import ApplicationError
from core.models import LoginFailures

logger = logging.getLogger(__name__)
Kind = LoginFailures.Kind
CLEANUP_BATCH = 500

MESSAGES = {
    Kind.ACCOUNT: "Too many failed log-ins for this account. Try again in {minutes} minute(s).",
    Kind.ADDRESS: "Too many failed log-ins from your network address. Try again in {minutes} minute(s).",
}


class LoginLocked(ApplicationError):
    """The account or the address is locked out; `retry_after` is in whole seconds."""

    def __init__(self, kind: str, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            MESSAGES[Kind(kind)].format(minutes=minutes), code="login_locked", status=429, extra={"retry_after": retry_after}
        )
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Limits:
    per_account: int
    per_address: int
    window: timedelta

    @classmethod
    def current(cls) -> _Limits:
        config = settings.CLEANROOM_LOGIN_LOCKOUT
        return cls(config["MAX_FAILURES_PER_ACCOUNT"], config["MAX_FAILURES_PER_ADDRESS"], timedelta(seconds=config["SECONDS"]))

    def of(self, kind: str) -> int:
        return self.per_account if kind == Kind.ACCOUNT else self.per_address


def _account_key(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


def _locked_row(kind: str, key: str, now: datetime) -> LoginFailures:
    """The counter row, locked for this transaction (created at zero when absent; a parallel
    attempt that created it first wins and get_or_create reads its row)."""
    return LoginFailures.objects.select_for_update().get_or_create(kind=kind, key=key, defaults={"last_failure_at": now})[0]


def _forget_old(cutoff: datetime) -> None:
    """Delete rows whose failures no longer count, skipping rows other attempts hold: waiting
    for them while holding ours could deadlock."""
    old = LoginFailures.objects.select_for_update(skip_locked=True).filter(last_failure_at__lte=cutoff)
    LoginFailures.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:CLEANUP_BATCH])).delete()


def _reserve(keys: dict[str, str], limits: _Limits, now: datetime) -> None:
    """Count this attempt against each key, or raise LoginLocked without counting it."""
    with transaction.atomic():
        rows = [_locked_row(kind, key, now) for kind, key in keys.items()]
        for row in rows:
            if row.last_failure_at + limits.window <= now:
                row.failures = 0  # the earlier failures are too old to count
            if row.failures >= limits.of(row.kind):
                retry_after = math.ceil((row.last_failure_at + limits.window - now).total_seconds())
                logger.warning("log-in refused: %s %s locked for %s s", row.kind, row.key, retry_after)
                raise LoginLocked(row.kind, retry_after)
        for row in rows:
            row.failures += 1
            row.last_failure_at = now
            row.save(update_fields=["failures", "last_failure_at"])
        _forget_old(now - limits.window)


def _give_back(keys: dict[str, str]) -> None:
    """A success: the account starts afresh; the address gets this attempt back (an office
    behind one address may log in all day), but keeps its failures."""
    with transaction.atomic():
        LoginFailures.objects.filter(kind=Kind.ACCOUNT, key=keys[Kind.ACCOUNT]).delete()
        address = LoginFailures.objects.select_for_update().filter(kind=Kind.ADDRESS, key=keys[Kind.ADDRESS]).first()
        if address is not None and address.failures > 0:
            address.failures -= 1
            address.save(update_fields=["failures"])


def login_authenticate(*, request: HttpRequest | Request, username: str, password: str) -> AbstractBaseUser | None:
    """Django's `authenticate`, unless the account or the client's address is locked out.

    Returns the user, or None for wrong credentials (counted as a failure). Raises LoginLocked
    (429, `login_locked`, with `retry_after`) without checking the password while locked.
    """
    keys: dict[str, str] = {Kind.ACCOUNT: _account_key(username), Kind.ADDRESS: client_identity(request)}
    _reserve(keys, _Limits.current(), timezone.now())
    # Outside the transaction: hashing a password is slow and must not hold the row locks.
    user = authenticate(request, username=username, password=password)
    if user is not None:
        _give_back(keys)
    return user
