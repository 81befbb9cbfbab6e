"""The generation API tests: the world of tests.generation.conftest, and an API client per persona."""

from __future__ import annotations

from tests.provenance.api.conftest import client_for  # noqa: F401 - fixture used here
