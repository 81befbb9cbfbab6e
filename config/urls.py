"""Root URLs: the web pages, the login pages and the REST API under /api/v1/."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from core.views import LoginView, PasswordChangeView, home
from core.web import ops

urlpatterns: list[URLPattern | URLResolver] = [
    path("", home, name="home"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("", include("core.web.urls")),
    path("", include("auditing.urls")),
    path("", include("provenance.urls")),
    path("", include("training.urls")),
    path("portal/", include("provenance.portal.urls")),
    path("", include("generation.urls")),
    path("api/v1/", include("core.api.urls", namespace="core-api")),
    path("api/v1/", include("provenance.api.urls", namespace="api")),
    path("api/v1/", include("auditing.api.urls", namespace="auditing-api")),
    path("api/v1/", include("training.api.urls", namespace="training-api")),
    path("api/v1/", include("generation.api.urls", namespace="generation-api")),
]

# The web pages' errors are friendly HTML (templates/400.html, 403.html, 404.html, 500.html);
# the API's are JSON.
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
