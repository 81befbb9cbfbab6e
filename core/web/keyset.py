"""Keyset pages for the web lists: newest first by (created_at, id), each page keyed on the last
row of the previous one, never on an offset, so a late page costs what the first does."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from core.exceptions import ApplicationError

INVALID_CURSOR = "this page link is not valid any more; start again from the first page"


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_cursor: str | None


def newest_first(queryset: QuerySet, *, after: str | None, limit: int) -> KeysetPage:
    """One page of `queryset` (rows with `created_at` and a UUID `pk`), newest first; `after`
    is the previous page's `next_cursor`. A cursor that was edited is refused (`invalid_cursor`)."""
    if after:
        created_at, pk = _read(after)
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(queryset.order_by("-created_at", "-pk")[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more and rows else None
    return KeysetPage(rows=rows, next_cursor=_write(last.created_at, last.pk) if last is not None else None)


def _write(created_at: datetime, pk: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), str(pk)]).encode()).decode().rstrip("=")


def _read(cursor: str) -> tuple[datetime, uuid.UUID]:
    invalid = ApplicationError(INVALID_CURSOR, code="invalid_cursor")
    if len(cursor) > 200:
        raise invalid
    try:
        created_at, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time carries its zone")
        return moment, uuid.UUID(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
