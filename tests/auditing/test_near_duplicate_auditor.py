"""The near-duplicate auditor in the pipeline, on third-party photos (scikit-image's data)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from PIL import Image
from skimage import data as samples

from auditing.auditors.near_duplicate import NearDuplicateAuditor
from auditing.models import AssetFingerprint, Finding, ProtectedWork
from auditing.services import asset_audit_run, audits_request
from auditing.services.protected import protected_add
from auditing.services.protected_index import index_path, protected_index, protected_index_forget
from auditing.similarity.embeddings import candidate_embeddings, vector_from_bytes
from core.exceptions import ApplicationError
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.auditing.tiny_clip import write_tiny_clip
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db


def jpeg(array: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _only_this_auditor(settings, tmp_path):
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.near_duplicate.NearDuplicateAuditor"]
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    protected_index_forget()
    yield
    protected_index_forget()


@pytest.fixture
def protect(tmp_path):
    def run(name: str, content: bytes, owner: str = "Acme Pictures") -> str:
        path = tmp_path / "protected" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        [(_, work)] = protected_add(paths=[str(path)], owner=owner, reference="catalogue #7").added
        return str(work.pk)

    return run


@pytest.fixture
def ingest(contributor, tmp_path):
    dataset_create(slug="photos", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])

    def run(files: dict[str, bytes]) -> dict[str, str]:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        paths = [str(folder / name) for name in files]
        result = IngestResultSerializer(
            ingest_paths(paths=paths, dataset_slug="photos", contributor_email="carla@example.com", consent_path=str(consent))
        ).data
        ids = {row["path"].rsplit("/", 1)[-1]: row["asset_id"] for row in result["accepted"]}
        for name in files:
            with transaction.atomic():
                audits_request(asset_ids=[ids[name]])
            asset_audit_run(asset_id=ids[name], task_id="t")
        return ids

    return run


def test_a_cropped_flipped_recompressed_copy_of_a_protected_work_is_found(protect, ingest):
    work_id = protect("astronaut.png", jpeg(samples.astronaut(), quality=95))
    copy = samples.astronaut()[40:470, 20:460][:, ::-1]
    ids = ingest({"space.jpg": jpeg(copy, quality=70)})
    finding = Finding.objects.get(asset_id=ids["space.jpg"], code="near_duplicate.protected_work")
    assert finding.details["protected_work_id"] == work_id
    assert finding.details["owner"] == "Acme Pictures" and finding.details["reference"] == "catalogue #7"
    assert {"flip", "crop"} <= set(finding.details["transforms"])
    assert finding.details["inliers"] >= 15 and finding.details["geometry"]["flipped"] is True
    assert finding.score > 0.5
    assert Asset.objects.get(pk=ids["space.jpg"]).status == "flagged"


def test_an_unrelated_photo_has_no_finding_and_is_clear(protect, ingest):
    protect("astronaut.jpg", jpeg(samples.astronaut()))
    ids = ingest({"coffee.jpg": jpeg(samples.coffee())})
    assert not Finding.objects.filter(asset_id=ids["coffee.jpg"]).exists()
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"
    assert AssetFingerprint.objects.filter(asset_id=ids["coffee.jpg"]).exists()


def test_two_near_identical_assets_in_one_dataset_are_a_within_dataset_finding(ingest):
    camera = samples.camera()
    resized = np.asarray(Image.fromarray(camera).resize((400, 400), Image.Resampling.LANCZOS))
    ids = ingest(
        {"camera.jpg": jpeg(camera), "camera-small.jpg": jpeg(resized, quality=75), "coffee.jpg": jpeg(samples.coffee())}
    )
    findings = Finding.objects.filter(code="near_duplicate.within_dataset")
    assert [(f.asset_id, f.details["asset_id"]) for f in findings] == [
        (Asset.objects.get(pk=ids["camera-small.jpg"]).pk, ids["camera.jpg"])
    ]
    assert "scale" in findings[0].details["transforms"]
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"


# --- with an open_clip model configured (a tiny one, random weights) --------------------------


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    return write_tiny_clip(folder, seed=0), write_tiny_clip(folder, seed=1)[1]


@pytest.fixture
def embeddings_on(settings, tiny_clip):
    """Every work becomes an embedding candidate (MIN_SIMILARITY -1): random weights rank
    nothing, so what these tests show is that embedding candidates reach the verification."""
    (config, weights), _ = tiny_clip

    def configure(weights=weights, **extra):
        settings.CLEANROOM_EMBEDDINGS = {"MODEL": str(config), "WEIGHTS": str(weights), "MIN_SIMILARITY": -1.0, **extra}
        return candidate_embeddings()

    return configure


def heavy_crop(array: np.ndarray) -> np.ndarray:
    """The lower-right 60%: pHash and dHash move too far for the hash stage (FACTS: 90% already gives 14)."""
    height, width = array.shape[:2]
    return array[round(height * 0.4) :, round(width * 0.4) :]


def test_with_embeddings_a_copy_is_proposed_by_them_and_verified(protect, ingest, embeddings_on):
    stage = embeddings_on()
    work_id = protect("astronaut.png", jpeg(samples.astronaut(), quality=95))
    protect("camera.png", jpeg(samples.camera()), owner="Other Owner")
    ids = ingest({"part.jpg": jpeg(heavy_crop(samples.astronaut()), quality=80)})

    (finding,) = Finding.objects.filter(asset_id=ids["part.jpg"])
    assert finding.code == "near_duplicate.protected_work" and finding.details["protected_work_id"] == work_id
    assert "embedding" in finding.details["candidate_sources"] and "hash" not in finding.details["candidate_sources"]
    assert -1.0 <= finding.details["embedding_similarity"] <= 1.0 and "crop" in finding.details["transforms"]
    stored = AssetFingerprint.objects.get(asset_id=ids["part.jpg"])
    assert stored.embedding_model == stage.version and vector_from_bytes(stored.embedding).shape == (32,)
    work = ProtectedWork.objects.get(pk=work_id)
    assert work.embedding_model == stage.version
    assert np.allclose(
        vector_from_bytes(work.embedding), stage.embed(Image.open(io.BytesIO(jpeg(samples.astronaut(), quality=95))))
    )


def test_with_every_work_an_embedding_candidate_an_unrelated_photo_stays_clear(protect, ingest, embeddings_on):
    embeddings_on()
    protect("astronaut.jpg", jpeg(samples.astronaut()))
    protect("camera.jpg", jpeg(samples.camera()))

    ids = ingest({"coffee.jpg": jpeg(samples.coffee())})

    assert not Finding.objects.filter(asset_id=ids["coffee.jpg"]).exists()
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"


def test_identical_assets_in_a_dataset_meet_through_their_embeddings_too(ingest, embeddings_on):
    embeddings_on()
    ids = ingest({"rocket.jpg": jpeg(samples.rocket()), "rocket-again.jpg": jpeg(samples.rocket(), quality=80)})

    (finding,) = Finding.objects.filter(code="near_duplicate.within_dataset")
    assert finding.details["asset_id"] == ids["rocket.jpg"]
    assert {"hash", "embedding"} <= set(finding.details["candidate_sources"])
    assert finding.details["embedding_similarity"] > 0.99


def test_the_index_keeps_its_embeddings_beside_it_and_reloads_them_without_a_rebuild(
    protect, embeddings_on, django_capture_on_commit_callbacks
):
    stage = embeddings_on()
    with django_capture_on_commit_callbacks(execute=True):  # each addition updates the saved index
        first = protect("astronaut.jpg", jpeg(samples.astronaut()))
    with django_capture_on_commit_callbacks(execute=True):
        second = protect("coffee.jpg", jpeg(samples.coffee()))
    path = index_path()
    vectors = path.with_name(path.name + ".emb")
    meta = json.loads(path.with_name(path.name + ".meta.json").read_text())
    written = {p: p.stat().st_mtime_ns for p in (path, vectors)}

    protected_index_forget()  # as a restarted worker
    index = protected_index()

    assert {p: p.stat().st_mtime_ns for p in (path, vectors)} == written
    assert meta["embedding_model"] == stage.version and meta["embeddings_sha256"]
    assert index.embedding_model == stage.version and index.embedded_count() == 2
    for work_id in (first, second):
        stored = vector_from_bytes(ProtectedWork.objects.get(pk=work_id).embedding)
        assert np.allclose(index.embedding(work_id), stored, atol=1e-6)


def test_works_registered_before_a_model_was_configured_are_embedded_on_the_rebuild(protect, embeddings_on, settings):
    settings.CLEANROOM_EMBEDDINGS = {"MODEL": "", "WEIGHTS": ""}
    work_id = protect("chelsea.jpg", jpeg(samples.chelsea()))
    assert protected_index().embedding_model == "" and ProtectedWork.objects.get(pk=work_id).embedding is None

    stage = embeddings_on()
    index = protected_index()

    work = ProtectedWork.objects.get(pk=work_id)
    assert work.embedding_model == stage.version
    assert index.embedding_model == stage.version and np.allclose(
        index.embedding(work_id), vector_from_bytes(work.embedding), atol=1e-6
    )


def test_another_model_rebuilds_the_index_with_its_own_embeddings(protect, embeddings_on, tiny_clip):
    first = embeddings_on()
    work_id = protect("coins.png", jpeg(samples.coins()))
    before = protected_index().embedding(work_id)

    second = embeddings_on(weights=tiny_clip[1])
    index = protected_index()

    assert second.version != first.version
    assert index.embedding_model == second.version and not np.allclose(index.embedding(work_id), before, atol=1e-3)
    assert ProtectedWork.objects.get(pk=work_id).embedding_model == second.version


def test_the_auditor_version_names_the_embedding_model(settings, embeddings_on, tiny_clip):
    settings.CLEANROOM_EMBEDDINGS = {"MODEL": "", "WEIGHTS": ""}
    assert NearDuplicateAuditor().version == "2"

    first = embeddings_on().model.digest
    assert NearDuplicateAuditor().version == f"2+e{first[:12]}"

    embeddings_on(weights=tiny_clip[1])
    assert NearDuplicateAuditor().version not in ("2", f"2+e{first[:12]}")
    assert len(NearDuplicateAuditor().version) <= 32


def test_a_weights_path_that_is_not_there_is_a_clear_refusal(protect, settings, tiny_clip, tmp_path):
    (config, _), _ = tiny_clip
    settings.CLEANROOM_EMBEDDINGS = {"MODEL": str(config), "WEIGHTS": str(tmp_path / "models" / "clip-missing.safetensors")}

    with pytest.raises(ApplicationError) as refused:
        protect("astronaut.jpg", jpeg(samples.astronaut()))
    assert refused.value.code == "embedding_model_unavailable" and "clip-missing.safetensors" in refused.value.message
    assert not ProtectedWork.objects.exists()
    with pytest.raises(ImproperlyConfigured, match=r"clip-missing\.safetensors"):
        _ = NearDuplicateAuditor().version
