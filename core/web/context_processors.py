"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.web.navigation import current_path, nav_links


def navigation(request: HttpRequest) -> dict[str, Any]:
    """`nav_links`: the links base.html's navigation shows to this request's user, and
    `nav_current`: the path of the one whose section this page is in (or None)."""
    links = nav_links(getattr(request, "user", None))
    return {"nav_links": links, "nav_current": current_path(links, request.path)}
