"""The auditors that are on, from settings.CLEANROOM_AUDITORS (short names or dotted paths), imported on first use."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from auditing.auditors.base import Auditor
from core.registry import BackendRegistry

AUDITORS: BackendRegistry[Auditor] = BackendRegistry(
    kind="auditor",
    setting="CLEANROOM_AUDITORS",
    base=Auditor,
    builtins={
        "synthetic": "auditing.auditors.synthetic.SyntheticAuditor",
        "pii": "auditing.auditors.pii.PiiAuditor",
        "nsfw": "auditing.auditors.nsfw.NsfwAuditor",
        "near_duplicate": "auditing.auditors.near_duplicate.NearDuplicateAuditor",
    },
)


@lru_cache(maxsize=8)
def _load(names: tuple[str, ...]) -> tuple[Auditor, ...]:
    return tuple(AUDITORS.load(name)() for name in names)


def auditors() -> tuple[Auditor, ...]:
    return _load(tuple(settings.CLEANROOM_AUDITORS))


def current_versions() -> dict[str, str]:
    return {auditor.name: auditor.version for auditor in auditors()}
