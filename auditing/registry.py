"""The auditors that are on, from settings.CLEANROOM_AUDITORS (dotted paths), imported on first use."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from auditing.auditors.base import Auditor


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[Auditor, ...]:
    return tuple(import_string(path)() for path in paths)


def auditors() -> tuple[Auditor, ...]:
    return _load(tuple(settings.CLEANROOM_AUDITORS))


def current_versions() -> dict[str, str]:
    return {auditor.name: auditor.version for auditor in auditors()}
