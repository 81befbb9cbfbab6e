from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.provenance.c2pa.tsa import LocalTsa
from tests.support.pki import Identity, use_identity, write_identity


@pytest.fixture
def identity(settings, tmp_path) -> Identity:
    """The organisation's signing identity, installed in the settings (files backend, no TSA)."""
    installed = write_identity(tmp_path / "pki")
    use_identity(settings, installed)
    return installed


@pytest.fixture(scope="session")
def tsa() -> Iterator[LocalTsa]:
    server = LocalTsa().start()
    yield server
    server.stop()
