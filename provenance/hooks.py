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


# A consent stopped holding (revoked, or its expiry recorded): what it covered no longer is.
ConsentLapsed = Callable[[str, Actor, str], None]
_lapsed: list[ConsentLapsed] = []


def on_consent_lapsed(hook: ConsentLapsed) -> None:
    if hook not in _lapsed:
        _lapsed.append(hook)


def consent_lapsed(consent_id: str, actor: Actor, reason: str) -> None:
    for hook in _lapsed:
        hook(consent_id, actor, reason)
