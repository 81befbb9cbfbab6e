"""The auditing API tests stand in the root conftest's `world` and use its `client_for`; their
findings come from tests.auditing.factories (made by the real pipeline).

Re-exported only so that tests written against the old layout still import; import them from
tests.auditing.factories instead (tests/test_test_layout.py refuses conftest imports).
"""

from __future__ import annotations

from tests.auditing.factories import SYNTHETIC_AUDITOR, flagged_finding, generated_jpeg

__all__ = ["SYNTHETIC_AUDITOR", "flagged_finding", "generated_jpeg"]
