"""Production: every secret and service must be configured; nothing insecure by default."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_secret, env_str

for _required in ("CLEANROOM_SECRET_KEY", "DATABASE_URL", "CLEANROOM_ALLOWED_HOSTS"):
    if not (os.environ.get(_required) or os.environ.get(f"{_required}_FILE")):
        raise ImproperlyConfigured(f"production needs {_required} (or {_required}_FILE)")

from config.settings.base import *  # noqa: E402,F403
from config.settings.base import logging_config  # noqa: E402

# One JSON object per line for the log collector, unless the operator asks for plain text.
CLEANROOM_LOG_FORMAT = env_str("CLEANROOM_LOG_FORMAT") or "json"
LOGGING = logging_config(CLEANROOM_LOG_FORMAT)

SECRET_KEY = env_secret("CLEANROOM_SECRET_KEY")
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("CLEANROOM_SECRET_KEY must be at least 50 characters")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    raise ImproperlyConfigured("production needs PostgreSQL in DATABASE_URL, not SQLite")
DEBUG = False

SECURE_SSL_REDIRECT = env_bool("CLEANROOM_SSL_REDIRECT", True)
# Probes and Prometheus speak plain HTTP to the pod itself (core/web/ops.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("CLEANROOM_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Pages read the CSRF token from the form, never from the cookie: scripts need not see it.
CSRF_COOKIE_HTTPONLY = True
# Static files: hashed, compressed copies written by `manage.py collectstatic` (run at deploy),
# served by WhiteNoise with far-future cache headers; nothing is read from the source folders.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
CSRF_TRUSTED_ORIGINS = [o for o in (env_str("CLEANROOM_CSRF_TRUSTED_ORIGINS") or "").split(",") if o]
