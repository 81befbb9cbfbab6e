"""Hooks through which provenance tells higher apps what happened, without importing them
(auditing registers in its AppConfig.ready). Hooks run inside the writing transaction."""

from __future__ import annotations

from collections.abc import Callable

from core.roles import Actor

AssetsIngested = Callable[[list[str], Actor], None]
_ingested: list[AssetsIngested] = []


def on_assets_ingested(hook: AssetsIngested) -> None:
    if hook not in _ingested:
        _ingested.append(hook)


def assets_ingested(asset_ids: list[str], actor: Actor) -> None:
    for hook in _ingested:
        hook(asset_ids, actor)
