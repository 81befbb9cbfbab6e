"""The API tests stand in the root conftest's `world` (tests.support.worlds.World) and use its
`client_for`; their builders live in tests.provenance.factories.

The names below are re-exported only so that tests written against the old layout still
import; import them from tests.provenance.factories, tests.core.factories and
tests.support.worlds instead (tests/test_test_layout.py refuses conftest imports).
"""

from __future__ import annotations

from tests.core.factories import PASSWORD
from tests.provenance.factories import consent_json, consent_upload, grant_consent, ingest, jpeg, zip_of
from tests.support.worlds import World

__all__ = ["PASSWORD", "World", "consent_json", "consent_upload", "grant_consent", "ingest", "jpeg", "zip_of"]
