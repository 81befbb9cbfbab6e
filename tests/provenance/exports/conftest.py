from __future__ import annotations

import pytest

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
