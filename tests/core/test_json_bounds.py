"""How deep JSON nests, measured without recursion (core/json_bounds.py)."""

from __future__ import annotations

import pytest

from core.json_bounds import JsonTooDeep, json_depth, json_loads


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ([1, [2, {"a": [3]}]], 4), ({"a": 1, "b": {"c": []}}, 3), ([[], [[[]]], []], 4)],
)
def test_json_depth_counts_the_deepest_branch(value, depth: int) -> None:
    assert json_depth(value) == depth
    assert json_depth(value, stop_past=1) == min(depth, 2)


def test_json_loads_reads_up_to_the_limit_and_refuses_past_it() -> None:
    assert json_loads("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(JsonTooDeep, match="nests deeper than 2 levels"):
        json_loads("[[[1]]]", max_depth=2)


def test_json_loads_refuses_nesting_that_would_exhaust_the_stack() -> None:
    with pytest.raises(JsonTooDeep) as refused:
        json_loads("[" * 200_000 + "]" * 200_000, max_depth=64)
    assert (refused.value.code, refused.value.status) == ("json_too_deep", 400)
