"""What every app's REST views share: the error responses of their schemas, lists' query
filters, and the one rule for objects a caller may not see (404, as if absent). Errors are
answered by core.api.errors."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from core.exceptions import NotFound

M = TypeVar("M", bound=Model)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The refusals of a view's own rules, for its `extend_schema(responses=...)`; the framework's
    (401, 403 for the role, 400 for the body, ...) are added to every operation by
    core.api.schema.AutoSchema."""
    # Imported here: the schema module loads drf-spectacular's generator, which imports DRF's
    # views, and DRF resolves our authentication and parser classes (under core.api) mid-import.
    from core.api.schema import ERRORS

    return {code: ERRORS[code] for code in codes}


def query_filters(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """A list's query parameters as `serializer_class` reads them. A malformed one (an unknown
    status, a NUL byte, which PostgreSQL would refuse mid-query) is a 400 `invalid` naming it,
    never a silently empty list or a 500. Other parameters (`limit`, `offset`) are ignored."""
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


def visible_or_404(queryset: QuerySet[M], what: str, **lookup: Any) -> M:
    """The object if the caller may see it; the same 404 whether it is hidden or absent."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFound(f"no {what} {next(iter(lookup.values()))}", code=f"unknown_{what}")
    return found
