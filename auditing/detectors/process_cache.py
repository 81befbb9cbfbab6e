"""Models loaded once per process and shared by every detector that uses them.

Audit workers scale by processes (a prefork pool), so a model is built on first use in the
process that runs it, never in the parent: onnxruntime and torch keep thread pools that do not
survive fork, and a lock held by another thread at fork time would stay held in the child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_models: dict[Hashable, Any] = {}
_lock = threading.RLock()


def _reset_after_fork() -> None:
    global _lock
    _models.clear()
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_after_fork)


def once_per_process(key: Hashable, build: Callable[[], T]) -> T:
    """The value built for `key` in this process, building it on first use."""
    with _lock:
        if key not in _models:
            _models[key] = build()
        return _models[key]


def loaded_keys() -> list[Hashable]:
    return list(_models)
