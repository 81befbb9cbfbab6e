from __future__ import annotations

from dataclasses import replace

import pytest

from provenance.exports import formats
from provenance.exports.formats import SNAPSHOT, register_export_format
from provenance.models import Snapshot
from tests.support.report_worlds import report_snapshot


@pytest.fixture
def approved(settings, contributor, reviewer, second_reviewer, ml_engineer) -> Snapshot:
    return report_snapshot(settings, contributor, reviewer, second_reviewer, ml_engineer)


@pytest.fixture
def in_review(settings, contributor, reviewer, second_reviewer, ml_engineer) -> Snapshot:
    return report_snapshot(settings, contributor, reviewer, second_reviewer, ml_engineer, approve=False, slug="portraits", seed=4)


@pytest.fixture
def out(tmp_path):
    """An empty folder for the exports (tmp_path also holds the test's blob store)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def _exports_under_tmp(settings, tmp_path):
    """Background exports write under DATA_DIR/exports: the test's own folder."""
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def registry():
    """Restores the format registry after a test changes it."""
    saved = dict(formats._FORMATS)
    yield
    formats._FORMATS.clear()
    formats._FORMATS.update(saved)


@pytest.fixture
def unbuilt_pdf(registry) -> None:
    """The PDF declared but without its writer, as before it was built: what the command, the
    API and the pages say of a format that is not available yet."""
    register_export_format(replace(formats._FORMATS[(SNAPSHOT, "pdf")], writer=""))
