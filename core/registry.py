"""One registry per kind of pluggable backend (auditors, watermarks, detectors, signers).

A setting names a backend by a short name (`"trustmark"`) or by the dotted path of a class
(`"myorg.watermarks.Custom"`). The class's module is imported on first use only, so the web
process never imports a worker's ML stack by reading a setting, and a new backend is one new
module that touches no other.

Generic plumbing: this module knows no app; each app builds its registries with its own base
class and built-in names.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Generic, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

T = TypeVar("T")


class UnknownBackend(ImproperlyConfigured, ValueError):
    """A setting names no backend of its kind.

    Also a ValueError: the detectors' former registries raised one, and callers may still catch it.
    """


class BackendRegistry(Generic[T]):
    """Short names and dotted paths → backend classes, each a subclass of `base`, imported once."""

    # `base` is a plain `type`: the bases are abstract, and mypy refuses an abstract class where
    # `type[T]` is expected (python/mypy#4717). T comes from the registry's annotation.
    def __init__(self, *, kind: str, setting: str, base: type, builtins: Mapping[str, str]) -> None:
        self.kind = kind
        self.setting = setting
        self.base = base
        self.builtins = dict(builtins)
        self._loaded: dict[str, type[T]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self.builtins)

    def load(self, name: str) -> type[T]:
        """The class `name` stands for: a built-in short name or a dotted path to a `base` subclass."""
        found = self._loaded.get(name)
        if found is None:
            # The lock keeps two threads from importing one module at once (a half-imported
            # module is visible in sys.modules to the second).
            with self._lock:
                found = self._loaded.get(name)
                if found is None:
                    found = self._import(name)
                    self._loaded[name] = found
        return found

    def _import(self, name: str) -> type[T]:
        path = self.builtins.get(name, name)
        if "." not in path:
            raise self._unknown(name, "")
        try:
            found = import_string(path)
        except ImportError as exc:
            raise self._unknown(name, f" ({exc})") from None
        if not (isinstance(found, type) and issubclass(found, self.base)):
            raise self._unknown(name, f" ({path} is not a {self.base.__module__}.{self.base.__qualname__})")
        return cast("type[T]", found)  # a subclass of `base`, which is T's class

    def _unknown(self, name: str, why: str) -> UnknownBackend:
        return UnknownBackend(
            f"{self.setting}: unknown {self.kind} backend {name!r}{why}; known: {', '.join(self.names())}, "
            f"or the dotted path of a {self.base.__qualname__} subclass"
        )
