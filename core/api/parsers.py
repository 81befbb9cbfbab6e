"""The API's JSON parser: DRF's, with nesting bounded (core/json_bounds.py).

The body's size is bounded before parsing by Django's DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads
JSON through `request.body`); `core.api.exception_handler` answers that with 413 `too_large`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import JSONParser

from core.json_bounds import JsonTooDeep, check_json_depth, max_json_depth

WHAT = "the request body"


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise JsonTooDeep(max_json_depth(), WHAT) from None
        return check_json_depth(data, what=WHAT)
