"""`export_write`'s own rules: a format that needs approval, an output that is a folder, and a
format declared later by registration (how PDF, Croissant and the pack will plug in)."""

from __future__ import annotations

import pytest

from core.exceptions import ApplicationError
from provenance.exports import formats
from provenance.exports.formats import SNAPSHOT, ExportFormat, export_format_names, export_formats, register_export_format
from provenance.exports.service import export_write
from provenance.services.consent import consent_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_only():
    """A format that needs approval, written by the CSV writer: registered for this test only."""
    register_export_format(
        ExportFormat("audited-csv", "Audited CSV", SNAPSHOT, "text/csv", "csv", True, "provenance.exports.tabular.csv_write")
    )
    yield "audited-csv"
    formats._FORMATS.pop((SNAPSHOT, "audited-csv"))


def test_a_registered_format_is_listed_and_written(approved, approved_only, out):
    assert approved_only in export_format_names() and approved_only in [f.name for f in export_formats(SNAPSHOT)]
    result = export_write(subject=SNAPSHOT, subject_id=str(approved.pk), format_name=approved_only, output=out / "a.csv")
    assert result.format == approved_only and (out / "a.csv").stat().st_size == result.size


def test_a_format_that_needs_approval_refuses_a_snapshot_in_review(in_review, approved_only, out):
    with pytest.raises(ApplicationError) as refused:
        export_write(subject=SNAPSHOT, subject_id=str(in_review.pk), format_name=approved_only, output=out / "a.csv")
    assert refused.value.code == "snapshot_not_approved" and "in_review" in refused.value.message
    assert list(out.iterdir()) == []


def test_a_tainted_snapshot_that_was_approved_may_still_be_exported_in_it(approved, approved_only, operator, out):
    consent_id = str(approved.members.order_by("index").values_list("consent_id", flat=True)[0])
    consent_revoke(consent_id=consent_id, actor=operator, reason="withdrawn")
    export_write(subject=SNAPSHOT, subject_id=str(approved.pk), format_name=approved_only, output=out / "a.csv")
    assert b"TAINTED" in (out / "a.csv").read_bytes()


def test_an_output_that_is_a_folder_is_refused(approved, out):
    (out / "taken").mkdir()
    with pytest.raises(ApplicationError) as refused:
        export_write(subject=SNAPSHOT, subject_id=str(approved.pk), format_name="csv", output=out / "taken", force=True)
    assert refused.value.code == "output_is_folder"
