from __future__ import annotations


class ApplicationError(Exception):
    """A request refused by a business rule: shown to the caller, never a crash.

    `code` is a stable machine-readable slug (`unknown_dataset`, `not_allowed`, ...);
    `message` a sentence for a person; `status` the HTTP status the API answers with, and
    `headers` any it sends with it (`Retry-After` on a 503).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status: int = 400,
        extra: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(ApplicationError):
    def __init__(self, message: str, *, code: str = "not_found"):
        super().__init__(message, code=code, status=404)


class PermissionDenied(ApplicationError):
    def __init__(self, message: str, *, code: str = "permission_denied"):
        super().__init__(message, code=code, status=403)


# The code a misconfiguration (Django's ImproperlyConfigured: a wrong setting, a backend's
# missing files) answers with: the command-line contract's `code`, and the prefix of the
# `error` recorded on a job a worker could not run for it.
MISCONFIGURED = "misconfigured"
