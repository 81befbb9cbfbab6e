"""Fuzzing ingest: thousands of malformed images and archives, and not one crash.

Each file (tests/support/mutants.py: seeded mutations of valid JPEG, PNG, WebP, GIF, TIFF and
ZIP files, with untouched valid images between them) goes through ingest in batches, as the
`ingest` command, the REST upload and the command's `--json` output take it. Every file must be
answered: accepted, or refused with one of the command-line contract's reasons and a detail;
every untouched image accepted; and no file may reach the service's last-resort handler (a
refusal "could not be read: <exception>", logged as "failed unexpectedly"), which is a crash
the service swallowed. CLEANROOM_FUZZ_INGEST_FILES sets the count through the service (10,000 by default; bench/
fuzz_ingest.py runs 10,000 and times them).
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from provenance.api.serializers import IngestResultSerializer
from provenance.ingest.refusals import RefusalReason
from provenance.services.contributors import contributor_get
from provenance.services.datasets import dataset_create, dataset_enrol
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import grant_consent, write_consent
from tests.support.mutants import FuzzFile, mutant_files

pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning:PIL")]

SERVICE_FILES = int(os.environ.get("CLEANROOM_FUZZ_INGEST_FILES") or 10_000)
API_FILES = 1000
CLI_FILES = 300
BATCH = 500
REASONS = {reason.value for reason in RefusalReason}


def _write(folder: Path, files: list[FuzzFile]) -> None:
    folder.mkdir(parents=True)
    for file in files:
        (folder / file.name).write_bytes(file.data)


def _problems(files: list[FuzzFile], result: dict) -> list[str]:
    """What the answer to a batch of `files` got wrong (an empty list when nothing)."""
    answered: dict[str, list[str]] = {}
    for row in result["accepted"]:
        answered.setdefault(Path(row["path"].split("!")[0]).name, []).append("accepted")
    problems = []
    for row in result["refused"]:
        name = Path(row["path"].split("!")[0]).name
        answered.setdefault(name, []).append(row["reason"])
        if row["reason"] not in REASONS or not row["detail"].strip():
            problems.append(f"{row['path']}: refused {row['reason']!r} with detail {row['detail']!r}")
        if row["detail"].startswith(("could not be read:", "could not be recorded:")):
            problems.append(f"{row['path']}: the service crashed on it: {row['detail']}")
    for file in files:
        if file.name not in answered:
            problems.append(f"{file.name}: no answer")
        elif file.valid and answered[file.name] != ["accepted"]:
            problems.append(f"{file.name}: a valid image was answered {answered[file.name]}")
    return problems


def _crash_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("provenance")]


@pytest.fixture
def fuzz_dataset(contributor, operator):
    dataset = dataset_create(slug="fuzz", scopes=["ai_training", "generative_training"], actor=operator)
    dataset_enrol(dataset=dataset, contributor=contributor_get(email="carla@example.com"), actor=operator)
    return dataset


def test_mutated_files_through_the_ingest_service_are_each_accepted_or_refused_with_a_reason(
    fuzz_dataset, tmp_path, caplog
) -> None:
    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    files = list(mutant_files(SERVICE_FILES, seed=15))
    problems: list[str] = []
    with caplog.at_level(logging.ERROR):
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            folder = tmp_path / f"batch-{start}"
            _write(folder, batch)
            result = IngestResultSerializer(
                ingest_paths(
                    paths=[str(folder)], dataset_slug="fuzz", contributor_email="carla@example.com", consent_path=str(consent)
                )
            ).data
            problems += _problems(batch, result)

    assert problems == [], f"{len(problems)} problem(s):\n" + "\n".join(problems[:50])
    assert _crash_logs(caplog) == []


def test_mutated_files_uploaded_to_the_rest_api_are_each_accepted_or_refused_never_a_server_error(
    fuzz_dataset, contributor, client_for, caplog
) -> None:
    consent = grant_consent(contributor, "carla@example.com")
    files = list(mutant_files(API_FILES, seed=16))
    client = client_for(contributor)
    problems: list[str] = []
    with caplog.at_level(logging.ERROR):
        for start in range(0, len(files), 50):  # a request holds what a client would send at once
            batch = files[start : start + 50]
            response = client.post(
                "/api/v1/ingest/",
                {
                    "dataset": "fuzz",
                    "consent_id": str(consent.pk),
                    "files": [SimpleUploadedFile(file.name, file.data, "application/octet-stream") for file in batch],
                },
                format="multipart",
            )
            assert response.status_code == 200, (batch[0].name, response.content[:2000])
            problems += _problems(batch, response.json())

    assert problems == [], f"{len(problems)} problem(s):\n" + "\n".join(problems[:50])
    assert _crash_logs(caplog) == []


def test_the_ingest_command_answers_a_folder_of_mutants_with_one_json_document(fuzz_dataset, tmp_path, caplog) -> None:
    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    files = list(mutant_files(CLI_FILES, seed=17))
    _write(tmp_path / "mutants", files)
    out = io.StringIO()

    with caplog.at_level(logging.ERROR):
        call_command(
            "ingest", str(tmp_path / "mutants"), "--dataset", "fuzz", "--contributor", "carla@example.com",
            "--consent", str(consent), "--json", stdout=out, stderr=io.StringIO(),
        )  # fmt: skip

    result = json.loads(out.getvalue())
    assert _problems(files, result) == []
    assert len(result["accepted"]) >= sum(file.valid for file in files)
    assert _crash_logs(caplog) == []
