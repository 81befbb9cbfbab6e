from __future__ import annotations

import pytest

from core.models import AuditEvent
from provenance import merkle
from provenance.exports.records import exclusion_records, member_records, snapshot_report
from provenance.services.consent import consent_revoke
from tests.support.report_worlds import DISMISSAL_REASON, HOSTILE_COLLECTION

pytestmark = pytest.mark.django_db


def test_the_report_says_what_the_snapshot_is_from_its_records(approved):
    report = snapshot_report(approved)
    assert (report.snapshot_id, report.dataset, report.dataset_name) == (str(approved.pk), "faces", "Faces")
    assert (report.status, report.status_label, report.tainted, report.lapses) == ("approved", "approved", False, ())
    assert report.merkle_root == approved.merkle_root and report.leaf_format == "cleanroom-leaf-v1"
    assert "RFC 9162" in report.tree and "consent digest" in report.leaf_definition
    assert (report.member_count, report.exclusion_count) == (6, 1)
    assert [a.reviewer for a in report.approvals] == ["rita", "ravi"]
    assert report.approved_at == report.approvals[1].at != ""
    assert report.created_by == approved.created_by.get_username() and report.created_at == approved.created_at.isoformat()
    last = AuditEvent.objects.filter(subject_type="snapshot", subject_id=str(approved.pk)).order_by("-seq").first()
    assert report.audit_anchor is not None and (report.audit_anchor.seq, report.audit_anchor.hash) == (last.seq, last.hash)
    assert report.audit_anchor.event_type == last.event_type


def test_members_stream_in_leaf_order_with_every_field_from_the_records(approved):
    records = list(member_records(approved, chunk=2))  # several chunks
    assert [r.leaf_index for r in records] == list(range(6))
    assert [r.sha256 for r in records] == sorted(r.sha256 for r in records)
    assert merkle.merkle_root([bytes.fromhex(r.leaf_hash) for r in records]).hex() == approved.merkle_root

    licensed = [r for r in records if r.source_url]
    assert len(licensed) == 5
    one = licensed[0]
    assert (one.source_url, one.source_collection, one.licensor, one.licence_spdx) == (
        "https://photos.example.com/set",
        HOSTILE_COLLECTION,
        "Acme Photo",
        "CC-BY-4.0",
    )
    assert one.consent_scopes == ("ai_training", "generative_training", "likeness")
    assert one.depicted_persons == ("Dana Model",)
    assert (one.format, one.size, one.width, one.height, one.terms_version) == ("JPEG", 1000, 64, 64, "2026-01")
    assert one.granted_at == "2026-01-01T00:00:00+00:00" and one.expires_at == "" and one.consent_revoked_at == ""
    assert one.blob_missing, "factory assets have no stored blob: the export says so"
    assert one.audit.runs == () and one.audit.findings == ()

    audited = next(r for r in records if not r.source_url)
    assert not audited.blob_missing
    assert [run.auditor for run in audited.audit.runs] == ["synthetic"]
    (finding,) = audited.audit.findings
    assert (finding.auditor, finding.status, finding.resolved_by, finding.reason) == (
        "synthetic",
        "dismissed",
        "rita",
        DISMISSAL_REASON,
    )
    assert finding.resolved_at != "" and finding.version == audited.audit.runs[0].version


def test_exclusions_say_why(approved):
    (excluded,) = exclusion_records(approved)
    assert excluded.reason and excluded.sha256


def test_a_tainted_snapshot_says_which_revocation_tainted_it(approved, operator):
    consent_id = next(member_records(approved)).consent_id
    anchor_before = snapshot_report(approved).audit_anchor
    consent_revoke(consent_id=consent_id, actor=operator, reason="the contributor withdrew")
    approved.refresh_from_db()
    report = snapshot_report(approved)
    assert report.tainted and report.status_label == "TAINTED" and report.status_reason
    assert [(lapse.consent_id, lapse.kind, lapse.reason) for lapse in report.lapses] == [
        (consent_id, "revoked", "the contributor withdrew")
    ]
    assert report.audit_anchor is not None and anchor_before is not None and report.audit_anchor.seq > anchor_before.seq
    revoked = [r for r in member_records(approved) if r.consent_id == consent_id]
    assert revoked and all(r.consent_revoked_at == report.lapses[0].at for r in revoked)
