"""Moved to tests.support.pki; re-exported so that tests written against the old path still import."""

from __future__ import annotations

from tests.support.pki import Identity, signer_settings, use_identity, write_identity

__all__ = ["Identity", "signer_settings", "use_identity", "write_identity"]
