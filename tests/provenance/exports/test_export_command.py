"""`export` in-process through call_command: JSON on stdout, exit 1 with {error, code} for a
refusal, exit 2 for a usage error, and never a file (whole or partial) unless it succeeded."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.workers import worker_environment

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def export(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("export", *args, "--json", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue() or "{}")
    return 0, json.loads(out.getvalue())


def test_a_snapshot_is_exported_with_its_path_format_and_sha256(approved, out):
    output = out / "report.csv"
    code, document = export(str(approved.pk), "--format", "csv", "--output", str(output))
    assert code == 0
    assert document["path"] == str(output) and document["format"] == "csv"
    assert document["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert "5 member image(s) missing" in document["warnings"][0]
    assert [p.name for p in out.iterdir()] == ["report.csv"], "no temporary file is left behind"


def test_an_existing_output_is_refused_without_force_and_replaced_with_it(approved, out):
    output = out / "report.json"
    output.write_text("keep me")
    code, document = export(str(approved.pk), "--format", "json", "--output", str(output))
    assert (code, document["code"]) == (1, "output_exists") and output.read_text() == "keep me"
    code, document = export(str(approved.pk), "--format", "json", "--output", str(output), "--force")
    assert code == 0
    assert json.loads(output.read_bytes())["snapshot"]["snapshot_id"] == str(approved.pk)


@pytest.mark.parametrize(
    ("subject", "code"),
    [(lambda s: str(uuid.uuid4()), "unknown_snapshot"), (lambda s: "not-a-uuid", "unknown_snapshot")],
)
def test_an_unknown_snapshot_is_refused_and_writes_nothing(approved, out, subject, code):
    output = out / "report.csv"
    returned, document = export(subject(approved), "--format", "csv", "--output", str(output))
    assert (returned, document["code"]) == (1, code) and document["error"]
    assert list(out.iterdir()) == []


def test_an_unknown_model_is_refused(out):
    returned, document = export("--model", str(uuid.uuid4()), "--format", "json", "--output", str(out / "m.json"))
    assert (returned, document["code"]) == (1, "unknown_model")
    assert list(out.iterdir()) == []


def test_an_output_folder_that_does_not_exist_is_refused(approved, out):
    returned, document = export(str(approved.pk), "--format", "csv", "--output", str(out / "nowhere" / "r.csv"))
    assert (returned, document["code"]) == (1, "output_folder_missing")


def test_an_output_folder_that_is_not_writable_is_refused(approved):
    # /proc refuses new files even to root (the chmod trick does not stop root).
    returned, document = export(str(approved.pk), "--format", "csv", "--output", "/proc/report.csv")
    assert (returned, document["code"]) == (1, "output_not_writable")


def test_a_format_not_built_yet_is_refused_in_words(approved, out, unbuilt_pdf):
    returned, document = export(str(approved.pk), "--format", "pdf", "--output", str(out / "r.out"))
    assert (returned, document["code"]) == (1, "format_unavailable") and "not available yet" in document["error"]
    assert list(out.iterdir()) == []


def test_a_format_that_needs_approval_is_refused_for_a_snapshot_in_review(in_review, out):
    returned, document = export(str(in_review.pk), "--format", "pack", "--output", str(out / "p.zip"))
    # The approval rule itself: tests/provenance/exports/test_service.py.
    assert (returned, document["code"]) == (1, "snapshot_not_approved") and list(out.iterdir()) == []


def test_a_format_for_the_other_subject_is_refused(approved, out):
    returned, document = export("--model", str(uuid.uuid4()), "--format", "csv", "--output", str(out / "m.csv"))
    assert (returned, document["code"]) == (1, "unknown_format")


def test_an_unknown_format_exits_2_with_usage_on_stderr(out):
    """As a user runs it: argparse refuses the format before anything is read or written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(out / "data"), DJANGO_SETTINGS_MODULE="config.settings.base")
    done = subprocess.run(
        [sys.executable, "manage.py", "export", str(uuid.uuid4()), "--format", "docx", "--output", str(out / "r.docx")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "invalid choice: 'docx'" in done.stderr
    assert not (out / "r.docx").exists()


def test_neither_or_both_subjects_is_a_usage_error(approved, out):
    for args in (["--format", "csv"], [str(approved.pk), "--model", str(uuid.uuid4()), "--format", "json"]):
        with pytest.raises(CommandError) as usage:
            call_command("export", *args, "--output", str(out / "x"), stdout=io.StringIO(), stderr=io.StringIO())
        assert usage.value.returncode == 2 and "either SNAPSHOT_ID or --model" in str(usage.value)
    assert list(out.iterdir()) == []


def _file_size_limit(limit: int):
    """For a child process: files may not grow past `limit` bytes, and a write past it fails
    with EFBIG instead of killing the process (what a full disk or quota does to a writer)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


@pytest.mark.django_db(transaction=True)
def test_an_error_while_writing_leaves_no_file(approved, out, tmp_path):
    output = out / "report.json"
    output.write_text("the previous export")

    # The real command in its own process, whose files may not grow past 2 kB: the JSON of six
    # members is larger, so the write fails part-way, as on a full disk.
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "export",
            str(approved.pk),
            "--format",
            "json",
            "--output",
            str(output),
            "--force",
            "--json",
        ],
        cwd=ROOT,
        env=worker_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_file_size_limit(2048),
    )

    assert done.returncode == 1 and json.loads(done.stdout)["code"] == "internal_error", done.stderr
    assert "File too large" in done.stderr
    assert output.read_text() == "the previous export" and [p.name for p in out.iterdir()] == ["report.json"]
