"""The NSFW auditor with the CLIP backend in the pipeline: a tiny open_clip model from a config,
and a head fitted here so that three of six third-party photos must be flagged."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.db import transaction
from PIL import Image
from skimage import data as samples

from auditing.auditors.nsfw import NsfwAuditor
from auditing.detectors.nsfw import DetectorUnavailable
from auditing.models import AuditRun, Finding
from auditing.services import asset_audit_run, audits_request
from auditing.similarity.embeddings import OpenClipModel
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.auditing.tiny_clip import fit_linear_head, write_head, write_tiny_clip
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

FLAGGED = ["astronaut", "chelsea", "rocket"]
PASSED = ["coffee", "camera", "coins"]


def jpeg(name: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(getattr(samples, name)()).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    config, weights = write_tiny_clip(folder, seed=0)
    encoder = OpenClipModel(model=str(config), weights=str(weights))
    # Fitted on the very bytes that are ingested below, so the decision on them is known.
    images = [Image.open(io.BytesIO(jpeg(name))) for name in FLAGGED + PASSED]
    head = fit_linear_head(encoder.embed(images), [name in FLAGGED for name in FLAGGED + PASSED])
    return config, weights, write_head(folder / "nsfw-head.safetensors", [head], threshold=0.6)


@pytest.fixture
def clip_backend(settings, clip_files):
    config, weights, head = clip_files
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.nsfw.NsfwAuditor"]
    settings.CLEANROOM_NSFW = {"BACKEND": "clip", "MODEL": str(config), "WEIGHTS": str(weights), "HEAD": str(head)}
    return settings.CLEANROOM_NSFW


@pytest.fixture
def ingest(contributor, tmp_path):
    dataset_create(slug="photos", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])

    def run(names: list[str]) -> dict[str, str]:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        for name in names:
            (folder / f"{name}.jpg").write_bytes(jpeg(name))
        result = IngestResultSerializer(
            ingest_paths(
                paths=[str(folder / f"{name}.jpg") for name in names],
                dataset_slug="photos",
                contributor_email="carla@example.com",
                consent_path=str(consent),
            )
        ).data
        ids = {row["path"].rsplit("/", 1)[-1].removesuffix(".jpg"): row["asset_id"] for row in result["accepted"]}
        for name in names:
            with transaction.atomic():
                audits_request(asset_ids=[ids[name]])
            asset_audit_run(asset_id=ids[name], task_id="t")
        return ids

    return run


def test_the_clip_backend_writes_a_scored_finding_for_each_flagged_photo_only(clip_backend, ingest):
    ids = ingest(FLAGGED + PASSED)

    for name in FLAGGED:
        (finding,) = Finding.objects.filter(asset_id=ids[name])
        assert finding.auditor == "nsfw" and finding.code == "nsfw.clip"
        assert finding.score == pytest.approx(0.982, abs=0.01)
        assert finding.details["flagged"] is True and finding.details["threshold"] == 0.6
        (label,) = finding.details["labels"]
        assert label["label"] == "NSFW" and label["score"] == pytest.approx(finding.score, abs=1e-4)
        assert label["box"] == [0, 0, *Image.open(io.BytesIO(jpeg(name))).size]
        assert Asset.objects.get(pk=ids[name]).status == "flagged"
    for name in PASSED:
        assert not Finding.objects.filter(asset_id=ids[name]).exists()
        assert Asset.objects.get(pk=ids[name]).status == "clear"


def test_the_run_is_recorded_under_the_clip_version(clip_backend, ingest):
    ids = ingest(["coffee"])

    run = AuditRun.objects.get(asset_id=ids["coffee"], auditor="nsfw")
    assert run.status == "done" and run.auditor_version == NsfwAuditor().version
    assert run.auditor_version.startswith("clip/") and run.auditor_version.endswith("/t0.6")


def test_a_changed_threshold_is_a_new_version_that_reaudits(clip_backend, settings, ingest):
    before = NsfwAuditor().version

    settings.CLEANROOM_NSFW = {**clip_backend, "THRESHOLD": 0.99}

    assert NsfwAuditor().version != before
    ids = ingest(["astronaut"])
    assert not Finding.objects.filter(asset_id=ids["astronaut"]).exists()


def test_a_misconfigured_weights_path_fails_clearly_and_audits_nothing(clip_backend, settings, ingest, tmp_path):
    missing = tmp_path / "models" / "clip.safetensors"
    settings.CLEANROOM_NSFW = {**clip_backend, "WEIGHTS": str(missing)}

    with pytest.raises(DetectorUnavailable, match=str(missing)):
        _ = NsfwAuditor().version
    with pytest.raises(DetectorUnavailable):
        ingest(["coffee"])
    assert not Finding.objects.exists()


def test_a_head_of_another_embedding_size_is_refused_before_any_image(clip_backend, settings, tmp_path):
    head = write_head(tmp_path / "head.safetensors", [(np.ones((1, 768)), np.zeros(1))])
    settings.CLEANROOM_NSFW = {**clip_backend, "HEAD": str(head)}

    with pytest.raises(DetectorUnavailable, match="768-dimensional"):
        _ = NsfwAuditor().version


def test_the_web_process_reads_the_versions_of_clip_backed_auditors_without_loading_torch(clip_files, tmp_path):
    config, weights, head = clip_files
    script = (
        "import sys, json\n"
        "from config.wsgi import application\n"
        "from auditing.registry import current_versions\n"
        "versions = current_versions()\n"
        "heavy = [m for m in ('torch', 'open_clip', 'faiss', 'cv2') if m in sys.modules]\n"
        "print(json.dumps({'versions': versions, 'heavy': heavy}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(
        CLEANROOM_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings.base",
        HF_HUB_OFFLINE="1",
        CLEANROOM_EMBEDDINGS_MODEL=str(config),
        CLEANROOM_EMBEDDINGS_WEIGHTS=str(weights),
        CLEANROOM_NSFW_BACKEND="clip",
        CLEANROOM_NSFW_MODEL=str(config),
        CLEANROOM_NSFW_WEIGHTS=str(weights),
        CLEANROOM_NSFW_HEAD=str(head),
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["versions"]["nsfw"].startswith("clip/") and "+e" in report["versions"]["near_duplicate"]
    assert report["heavy"] == []
