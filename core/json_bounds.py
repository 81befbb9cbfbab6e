"""JSON from outside (API bodies, consent files, a base model's configs) with bounded nesting.

Python's parser recurses once per level: `[` repeated 200,000 times raises `RecursionError`
(a crash, not a `ValueError`), and a document just under the interpreter's limit still makes
every later recursive walk of it fragile. No document of ours nests deeper than a few levels, so
anything deeper than `CLEANROOM_JSON_MAX_DEPTH` is refused as `json_too_deep` (400).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from core.exceptions import ApplicationError

TOO_DEEP = "json_too_deep"


class JsonTooDeep(ApplicationError):
    def __init__(self, max_depth: int, what: str = "the JSON document"):
        super().__init__(f"{what} nests deeper than {max_depth} levels", code=TOO_DEEP, status=400)


def max_json_depth() -> int:
    return settings.CLEANROOM_JSON_MAX_DEPTH


def json_depth(value: Any, *, stop_past: int | None = None) -> int:
    """How deep arrays and objects nest: 0 for a scalar, 1 for `[]` or `{"a": 1}`. Level by level,
    keeping only containers (no recursion); with `stop_past`, it stops once past that depth."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level and (stop_past is None or depth <= stop_past):
        depth += 1
        below = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return depth


def check_json_depth(value: Any, *, what: str = "the JSON document", max_depth: int | None = None) -> Any:
    """`value` unchanged, or JsonTooDeep when it nests deeper than the limit."""
    limit = max_json_depth() if max_depth is None else max_depth
    if json_depth(value, stop_past=limit) > limit:
        raise JsonTooDeep(limit, what)
    return value


def json_loads(text: str | bytes, *, what: str = "the JSON document", max_depth: int | None = None, **options: Any) -> Any:
    """`json.loads` that refuses over-deep nesting with JsonTooDeep; malformed JSON still
    raises `json.JSONDecodeError` (a `ValueError`) as before."""
    limit = max_json_depth() if max_depth is None else max_depth
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise JsonTooDeep(limit, what) from None
    return check_json_depth(value, what=what, max_depth=limit)
