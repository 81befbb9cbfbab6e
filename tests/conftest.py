"""Personas shared by every test: each permission test reads like a sentence about them.

contributor (linked to a Contributor record), reviewer, second_reviewer, ml_engineer,
compliance, operator, product (a product team's account: the generation API), outsider (an
account with no role). Also shared: `client_for(user)`, the API `world` (tests.support.worlds),
the tiny pipeline built once per session (`tiny_model_dir`, `tiny_copy`; tests.support.tiny_models)
and the signing identity (`pki`; tests.support.pki). Builders live in `tests/<app>/factories.py`
and `tests/support/`; a test imports them from there, never from a conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from core.roles import Role
from provenance.services.contributors import contributor_add
from tests.core.factories import user_with_role
from tests.support.pki import pki_install
from tests.support.tiny_models import build_tiny_pipeline, private_copy
from tests.support.worlds import ModelWorld, TrainableWorld, World, api_world, model_world, trainable_world
from tests.training.factories import trained_model


@pytest.fixture(autouse=True)
def _rate_limit_counts_start_at_zero(request):
    """The throttles count in the cache, a database table by default. A transactional test
    commits its counts and no flush empties that table, so the next tests of the same process
    would start part-way to a limit: every test that uses the database starts with it empty."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = bool(names & {"transactional_db", "live_server"}) or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _embedded_broker_starts_empty():
    """A message a test queued and no worker took stays in this process's broker folder, where
    the next test that counts or loses messages (or starts a worker) would find it: every test
    starts with the embedded broker's queues empty."""
    from django.conf import settings

    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if folder:
        for message in Path(folder).glob("*.msg"):
            message.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _blob_storage_per_test(settings, tmp_path):
    """Each test gets its own blob folder, so content-addressed files never leak between tests."""
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "core.storage.ContentAddressedFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "blobs")}},
    }
    settings.CLEANROOM_DO_NOT_TRAIN_FILE = str(tmp_path / "do-not-train.txt")
    # Nothing a test does may touch the checkout's own data folder: the signing identity, model
    # directories and indexes live in the test's folder too.
    pki = tmp_path / "pki"
    settings.CLEANROOM_PKI_DIR = pki
    settings.CLEANROOM_SIGNER = {
        **settings.CLEANROOM_SIGNER,
        "CERT_CHAIN": str(pki / "signer-chain.pem"),
        "KEY": str(pki / "signer-key.pem"),
        "TRUST_ANCHORS": str(pki / "anchors.pem"),
    }
    settings.CLEANROOM_MODELS_DIR = tmp_path / "models"
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    # Where a worker started with CLEANROOM_DATA_DIR = tmp_path (tests.workers) looks for it too.
    settings.CLEANROOM_VERIFY_SPOOL_DIR = tmp_path / "verify-spool"


@pytest.fixture
def contributor(db):
    user = user_with_role("carla", Role.CONTRIBUTOR)
    contributor_add(email="carla@example.com", name="Carla Contributor", username="carla")
    return user


@pytest.fixture
def other_contributor(db):
    user = user_with_role("otto", Role.CONTRIBUTOR)
    contributor_add(email="otto@example.com", name="Otto Other", username="otto")
    return user


@pytest.fixture
def reviewer(db):
    return user_with_role("rita", Role.REVIEWER)


@pytest.fixture
def second_reviewer(db):
    return user_with_role("ravi", Role.REVIEWER)


@pytest.fixture
def ml_engineer(db):
    return user_with_role("mel", Role.ML_ENGINEER)


@pytest.fixture
def compliance(db):
    return user_with_role("cora", Role.COMPLIANCE)


@pytest.fixture
def operator(db):
    return user_with_role("opal", Role.OPERATOR)


@pytest.fixture
def product(db):
    return user_with_role("pia", Role.PRODUCT)


@pytest.fixture
def outsider(db):
    return user_with_role("oscar", None)


@pytest.fixture
def personas(contributor, reviewer, second_reviewer, ml_engineer, compliance, operator, product, outsider):
    return {
        "contributor": contributor,
        "reviewer": reviewer,
        "ml_engineer": ml_engineer,
        "compliance": compliance,
        "operator": operator,
        "product": product,
        "outsider": outsider,
    }


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_for(api: APIClient):
    """`client_for(user)`: the API client logged in as `user` (None: anonymous)."""

    def login(user) -> APIClient:
        api.logout()
        api.credentials()
        if user is not None:
            api.force_login(user)
        return api

    return login


@pytest.fixture
def world(contributor, other_contributor, reviewer, second_reviewer, ml_engineer, compliance, operator, outsider) -> World:
    """The API world: see tests.support.worlds.World (generation's conftest has its own)."""
    return api_world(contributor=contributor, reviewer=reviewer, ml_engineer=ml_engineer, operator=operator)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny pipeline, built once; tests that change files use `tiny_copy` instead."""
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_copy(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny pipeline that a test may tamper with."""
    return private_copy(tiny_model_dir, tmp_path)


@pytest.fixture
def pki(settings, tmp_path, db) -> dict:
    """The organisation's signing identity, created by `pki init` under tmp_path."""
    return pki_install(settings, tmp_path / "pki")


@pytest.fixture
def cpu_trainable_world(contributor, reviewer, second_reviewer, ml_engineer, operator, pki, tiny_model_dir, settings):
    """carla's two approved images in an approved snapshot of `portraits`, and an approved tiny
    base model; training and generation set to run on the CPU."""
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    return trainable_world(
        contributor=contributor,
        reviewer=reviewer,
        second_reviewer=second_reviewer,
        ml_engineer=ml_engineer,
        operator=operator,
        base_dir=tiny_model_dir,
    )


@pytest.fixture
def cpu_trained_model(cpu_trainable_world: TrainableWorld, ml_engineer):
    """(the trainable world, mel's LoRA trained on it in-process on the CPU)."""
    return cpu_trainable_world, trained_model(cpu_trainable_world.snapshot, cpu_trainable_world.base_model, ml_engineer)


@pytest.fixture
def cpu_model_world(cpu_trainable_world: TrainableWorld, ml_engineer) -> ModelWorld:
    """The trainable world with mel's LoRA trained on it, as the generation tests' ModelWorld."""
    return model_world(cpu_trainable_world, ml_engineer=ml_engineer)
