"""The CSV and JSON exports, through `export_write` (the one service the command, the API and
the page use)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

from provenance import merkle
from provenance.exports.service import export_write
from provenance.services.consent import consent_revoke
from tests.support.report_worlds import DISMISSAL_REASON, HOSTILE_COLLECTION

pytestmark = pytest.mark.django_db


def exported(snapshot, fmt: str, path) -> bytes:
    result = export_write(subject="snapshot", subject_id=str(snapshot.pk), format_name=fmt, output=path)
    data = path.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.size == len(data)
    return data


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_two_exports_of_the_same_snapshot_are_the_same_bytes(approved, tmp_path, fmt):
    first = exported(approved, fmt, tmp_path / f"one.{fmt}")
    assert first == exported(approved, fmt, tmp_path / f"two.{fmt}")
    assert first.endswith(b"\n")


def test_the_csv_has_a_row_per_member_in_leaf_order_then_the_exclusions(approved, tmp_path):
    rows = csv_rows(exported(approved, "csv", tmp_path / "report.csv"))
    members = [row for row in rows if row["record"] == "member"]
    assert [int(row["leaf_index"]) for row in members] == list(range(6))
    assert merkle.merkle_root([bytes.fromhex(row["leaf_hash"]) for row in members]).hex() == approved.merkle_root
    assert {row["snapshot_status"] for row in rows} == {"approved"}
    licensed = members[[row["source_url"] for row in members].index("https://photos.example.com/set")]
    assert licensed["licence_spdx"] == "CC-BY-4.0" and licensed["depicted_persons"] == "Dana Model"
    assert licensed["consent_scopes"] == "ai_training; generative_training; likeness"
    assert licensed["blob_missing"] == "yes"
    audited = next(row for row in members if not row["source_url"])
    assert audited["blob_missing"] == "no" and audited["auditors"].startswith("synthetic ")
    assert "dismissed by rita" in audited["findings"] and DISMISSAL_REASON in audited["findings"]
    (excluded,) = [row for row in rows if row["record"] == "excluded"]
    assert excluded["excluded_reason"] and excluded["sha256"] and not excluded["leaf_index"]


def test_the_csv_shows_a_would_be_formula_as_text(approved, tmp_path):
    rows = csv_rows(exported(approved, "csv", tmp_path / "report.csv"))
    collections = {row["source_collection"] for row in rows if row["source_url"]}
    assert collections == {"'" + HOSTILE_COLLECTION}


def test_the_json_holds_the_snapshot_its_members_and_a_warning_for_missing_images(approved, tmp_path):
    result = export_write(subject="snapshot", subject_id=str(approved.pk), format_name="json", output=tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_bytes())
    assert document["format"] == "cleanroom-snapshot-report-v1"
    snapshot = document["snapshot"]
    assert (snapshot["merkle_root"], snapshot["status"], snapshot["member_count"]) == (approved.merkle_root, "approved", 6)
    assert [a["reviewer"] for a in snapshot["approvals"]] == ["rita", "ravi"] and snapshot["audit_anchor"]["hash"]
    assert "RFC 9162" in snapshot["tree"]
    assert [m["leaf_index"] for m in document["members"]] == list(range(6))
    assert len(document["exclusions"]) == 1
    missing = [m["asset_id"] for m in document["members"] if m["blob_missing"]]
    assert len(missing) == 5
    (warning,) = document["warnings"]
    assert warning.startswith("5 member image(s) missing") and all(asset_id in warning for asset_id in missing)
    assert result.warnings == document["warnings"]


def test_a_tainted_snapshot_says_tainted_and_why_in_both_formats(approved, operator, tmp_path):
    consent_id = json.loads(exported(approved, "json", tmp_path / "before.json"))["members"][0]["consent_id"]
    consent_revoke(consent_id=consent_id, actor=operator, reason="the contributor withdrew")

    rows = csv_rows(exported(approved, "csv", tmp_path / "after.csv"))
    assert {row["snapshot_status"] for row in rows} == {"TAINTED"}
    assert all(row["consent_revoked_at"] for row in rows if row["consent_id"] == consent_id)
    snapshot = json.loads(exported(approved, "json", tmp_path / "after.json"))["snapshot"]
    assert snapshot["status"] == "TAINTED" and snapshot["tainted"] is True and snapshot["status_reason"]
    assert [(lapse["consent_id"], lapse["reason"]) for lapse in snapshot["lapses"]] == [(consent_id, "the contributor withdrew")]


def test_a_snapshot_in_review_exports_with_its_status(in_review, tmp_path):
    rows = csv_rows(exported(in_review, "csv", tmp_path / "r.csv"))
    assert {row["snapshot_status"] for row in rows} == {"in_review"}
    assert json.loads(exported(in_review, "json", tmp_path / "r.json"))["snapshot"]["approvals"] == []
