"""Every list's pagination: `?limit=&offset=` with a maximum page size.

DRF's LimitOffsetPagination has no maximum by default: `limit=1000000` answered every row in one
page, and a limit of 2**63 or more overflowed PostgreSQL's bigint (a 500). Over the maximum,
the page is cut to it (DRF's `max_limit`) and `next` carries on from there.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.settings import api_settings


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.CLEANROOM_API_MAX_PAGE_SIZE

    @property
    def default_limit(self) -> int:  # type: ignore[override]
        return min(api_settings.PAGE_SIZE or self.max_limit, self.max_limit)
