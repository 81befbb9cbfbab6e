"""Every route of every app × every persona, with the exact status each one gets.

Read a row as: "this request, made by each persona in turn, answers these statuses". 401 means
no credentials, 403 the wrong role, 404 another user's object (its existence never leaks).
Each request is well-formed, so a persona that is let in gets the endpoint's success status.

The routes come from the URLconf (`config.urls`), each with the methods its view implements, so
a new route or method without a row here fails `test_every_route_of_every_app_has_a_row`.
Each row builds its world once; each persona's request runs in a savepoint rolled back after
it, so every persona meets the same world (an approval by rita does not become ravi's 409).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from auditing.models import Finding, ProtectedWork
from auditing.services.protected import protected_add
from core.auditlog_verify import AUDITLOG_VERIFY_KIND
from core.background import background_run, background_start
from core.models import BackgroundJob
from core.tokens import token_issue
from generation.models import GenerationBatch, GenerationJob, Output, Verification
from generation.output_index import output_index_forget
from generation.services.batches import generation_batch_request
from generation.services.verification import verification_run
from generation.services.verification_results import verification_report_sign
from provenance.exports.jobs import export_start
from provenance.models import UploadSession
from provenance.services.portal_upload import upload_receive, upload_session_start
from tests.auditing.factories import flagged_finding
from tests.core.factories import PASSWORD
from tests.generation.factories import FAST, SIZE, png, released, requested_job, verification_of
from tests.provenance.factories import consent_upload, jpeg
from tests.support.worlds import ModelWorld, TrainableWorld, World, model_world, trainable_world
from tests.training.factories import registered_base_model, requested_run
from training.models import BaseModel, ModelArtifact, TrainingRun

PERSONAS = (
    "anonymous", "outsider", "contributor", "other_contributor", "reviewer", "second_reviewer",
    "ml_engineer", "compliance", "operator", "product",
)  # fmt: skip

# fmt: off
MATRIX: list[tuple[str, tuple[int, ...]]] = [
    #  request                                        anon oscar carla otto rita ravi  mel cora opal  pia
    ("GET  /",                                        (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    # probes and metrics (core/web/ops.py): no login; /metrics open to loopback (the test client)
    ("GET  /healthz",                                 (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET  /readyz",                                  (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET  /metrics",                                 (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET  /accounts/login/",                         (200, 302,  302, 302, 302, 302, 302, 302, 302, 302)),
    ("POST /accounts/login/",                         (200, 302,  302, 302, 302, 302, 302, 302, 302, 302)),
    ("PUT  /accounts/login/",                         (200, 302,  302, 302, 302, 302, 302, 302, 302, 302)),
    ("POST /accounts/logout/",                        (302, 302,  302, 302, 302, 302, 302, 302, 302, 302)),
    ("GET  /accounts/password/",                      (302, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST /accounts/password/",                      (302, 302,  302, 302, 302, 302, 302, 302, 302, 302)),
    ("PUT  /accounts/password/",                      (302, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    # the review pages (auditing) and the images they show
    ("GET  /review/",                                 (302, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("GET  /review/assets/{flagged_asset}/",          (302, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("POST /review/assets/{flagged_asset}/",          (302, 403,  403, 403, 302, 302, 403, 403, 403, 403)),
    ("GET  /review/bulk/",                            (302, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("POST /review/bulk/",                            (302, 403,  403, 403, 302, 302, 403, 403, 403, 403)),
    ("GET  /images/assets/{asset}/",                  (302, 404,  200, 404, 200, 200, 404, 200, 200, 404)),
    ("GET  /images/assets/{asset}/thumb/{thumbnail_size}/", (302, 404, 200, 404, 200, 200, 404, 200, 200, 404)),
    ("GET  /portal/",                                 (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/consents/new/",                    (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/consents/new/",                    (302, 403,  302, 302, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/consents/{consent}/",              (302, 403,  200, 404, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/consents/{consent}/revoke/",       (302, 403,  200, 404, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/consents/{consent}/revoke/",       (302, 403,  302, 404, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/consents/{consent}/download/",     (302, 403,  200, 404, 403, 403, 403, 403, 403, 403)),
    ("GET  /images/protected/{protected_work}/",      (302, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    # the snapshot and base-model pages (four eyes): reviewers decide, engineers and compliance read
    ("GET  /snapshots/",                              (302, 403,  403, 403, 200, 200, 200, 200, 403, 403)),
    ("GET  /snapshots/{snapshot}/",                   (302, 403,  403, 403, 200, 200, 200, 200, 403, 403)),
    ("POST /snapshots/{snapshot}/",                   (302, 403,  403, 403, 302, 302, 403, 403, 403, 403)),
    ("GET  /base-models/",                            (302, 403,  403, 403, 200, 200, 200, 200, 403, 403)),
    ("GET  /base-models/{base_model}/",               (302, 403,  403, 403, 200, 200, 200, 200, 403, 403)),
    ("POST /base-models/{base_model}/",               (302, 403,  403, 403, 302, 302, 403, 403, 403, 403)),
    # the audit trail; a background job's page is its starter's alone (rita's here)
    ("GET  /auditlog/",                               (302, 403,  403, 403, 403, 403, 403, 200, 200, 403)),
    ("GET  /auditlog/decisions.csv",                  (302, 403,  403, 403, 403, 403, 403, 200, 200, 403)),
    ("POST /auditlog/verify/",                        (302, 403,  403, 403, 403, 403, 403, 302, 302, 403)),
    ("GET  /tasks/{background_job}/",                 (302, 404,  404, 404, 200, 404, 404, 404, 404, 404)),
    # the reports (compliance): a small snapshot's CSV downloads at once; a prepared export is its requester's alone
    ("GET  /reports/",                                (302, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("GET  /reports/{snapshot}/{export_format}/",     (302, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("POST /reports/{snapshot}/{export_format}/",     (302, 403,  403, 403, 403, 403, 403, 302, 403, 403)),
    ("GET  /reports/downloads/{export_job}/",         (302, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("GET  /reports/models/{model}/{model_format}/",  (302, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("POST /reports/models/{model}/{model_format}/",  (302, 403,  403, 403, 403, 403, 403, 302, 403, 403)),
    # the portal's upload (contributors, their own uploads only: otto meets carla's consent and upload as 404)
    ("GET  /portal/upload/",                          (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/upload/",                          (302, 403,  302, 404, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/upload/start/",                    (302, 403,  201, 404, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/upload/{upload_session}/",         (302, 403,  200, 404, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/upload/{upload_session}/files/",   (302, 403,  200, 404, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/upload/{upload_session}/files/",   (302, 403,  201, 404, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/upload/{upload_session}/process/", (302, 403,  302, 404, 403, 403, 403, 403, 403, 403)),
    # the contributor portal: "Was my image used?" (carla's image is in the world's snapshot)
    ("GET  /portal/check/",                           (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("POST /portal/check/",                           (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/check/how-to-check-a-proof/",      (302, 403,  200, 200, 403, 403, 403, 403, 403, 403)),
    ("GET  /portal/check/{asset}/proof/{snapshot}.json", (302, 403, 200, 404, 403, 403, 403, 403, 403, 403)),
    # provenance
    ("GET  /api/v1/schema/",                          (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET  /api/v1/docs/",                            (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST /api/v1/auth/token/",                      (400, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("DELETE /api/v1/auth/token/",                    (401, 204,  204, 204, 204, 204, 204, 204, 204, 204)),
    ("GET  /api/v1/contributors/",                    (401, 403,  403, 403, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/contributors/",                    (401, 403,  403, 403, 403, 403, 403, 403, 201, 403)),
    ("GET  /api/v1/datasets/",                        (401, 403,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST /api/v1/datasets/",                        (401, 403,  403, 403, 403, 403, 201, 403, 201, 403)),
    ("GET  /api/v1/datasets/{dataset}/",              (401, 403,  200, 404, 200, 200, 200, 200, 200, 404)),
    ("POST /api/v1/datasets/{dataset}/enrol/",        (401, 403,  403, 403, 403, 403, 201, 403, 201, 403)),
    ("POST /api/v1/datasets/{dataset}/unenrol/",      (401, 403,  403, 403, 403, 403, 200, 403, 200, 403)),
    ("GET  /api/v1/consents/",                        (401, 403,  200, 200, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/consents/",                        (401, 403,  201, 403, 403, 403, 403, 403, 201, 403)),
    ("GET  /api/v1/consents/{consent}/",              (401, 403,  200, 404, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/consents/{consent}/revoke/",       (401, 403,  200, 404, 200, 200, 403, 403, 200, 403)),
    ("POST /api/v1/consents/{consent}/renew/",        (401, 403,  200, 404, 200, 200, 403, 403, 200, 403)),
    ("POST /api/v1/ingest/",                          (401, 403,  200, 404, 403, 403, 403, 403, 200, 403)),
    ("GET  /api/v1/assets/",                          (401, 403,  200, 200, 200, 200, 403, 200, 200, 403)),
    ("GET  /api/v1/assets/{asset}/",                  (401, 403,  200, 404, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/assets/{asset}/review/",           (401, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("GET  /api/v1/snapshots/",                       (401, 403,  403, 403, 200, 200, 200, 200, 200, 403)),
    ("POST /api/v1/snapshots/",                       (401, 403,  403, 403, 403, 403, 201, 403, 201, 403)),
    ("GET  /api/v1/snapshots/{snapshot}/",            (401, 403,  403, 403, 200, 200, 200, 200, 200, 403)),
    ("POST /api/v1/snapshots/{snapshot}/approve/",    (401, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("POST /api/v1/snapshots/{snapshot}/reject/",     (401, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("POST /api/v1/snapshots/{snapshot}/prove/",      (401, 403,  403, 403, 200, 200, 200, 200, 200, 403)),
    ("POST /api/v1/snapshots/{snapshot}/exports/",    (401, 403,  403, 403, 403, 403, 403, 202, 403, 403)),
    ("GET  /api/v1/exports/{export_job}/",            (401, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("GET  /api/v1/exports/{export_job}/file/",       (401, 403,  403, 403, 403, 403, 403, 200, 403, 403)),
    ("GET  /api/v1/audit-events/",                    (401, 403,  403, 403, 403, 403, 403, 200, 200, 403)),
    ("GET  /api/v1/audit-events/verify/",             (401, 403,  403, 403, 403, 403, 403, 200, 200, 403)),
    # auditing
    ("GET  /api/v1/findings/",                        (401, 403,  200, 200, 200, 200, 403, 200, 200, 403)),
    ("GET  /api/v1/findings/{finding}/",              (401, 403,  200, 404, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/findings/{finding}/resolve/",      (401, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("GET  /api/v1/assets/{asset}/findings/",         (401, 403,  200, 404, 200, 200, 403, 200, 200, 403)),
    ("GET  /api/v1/datasets/{dataset}/findings/",     (401, 403,  200, 404, 200, 200, 403, 200, 200, 403)),
    ("POST /api/v1/datasets/{dataset}/audit/",        (401, 403,  403, 403, 403, 403, 202, 403, 202, 403)),
    # training
    ("GET  /api/v1/base-models/",                     (401, 403,  403, 403, 200, 200, 200, 200, 200, 403)),
    ("GET  /api/v1/base-models/{base_model}/",        (401, 403,  403, 403, 200, 200, 200, 200, 200, 403)),
    ("POST /api/v1/base-models/{base_model}/approve/", (401, 403, 403, 403, 200, 200, 403, 403, 403, 403)),
    ("POST /api/v1/base-models/{base_model}/reject/", (401, 403,  403, 403, 200, 200, 403, 403, 403, 403)),
    ("GET  /api/v1/training-runs/",                   (401, 403,  403, 403, 403, 403, 200, 200, 200, 403)),
    ("POST /api/v1/training-runs/",                   (401, 403,  403, 403, 403, 403, 202, 403, 403, 403)),
    ("GET  /api/v1/training-runs/{run}/",             (401, 403,  403, 403, 403, 403, 200, 200, 200, 403)),
    ("POST /api/v1/training-runs/{run}/cancel/",      (401, 403,  403, 403, 403, 403, 200, 403, 403, 403)),
    ("GET  /api/v1/models/",                          (401, 403,  403, 403, 403, 403, 200, 200, 200, 200)),
    ("GET  /api/v1/models/{model}/",                  (401, 403,  403, 403, 403, 403, 200, 200, 200, 200)),
    ("POST /api/v1/models/{model}/exports/",          (401, 403,  403, 403, 403, 403, 403, 202, 403, 403)),
    # generation
    ("GET  /api/v1/generation/jobs/",                 (401, 403,  403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST /api/v1/generation/jobs/",                 (401, 403,  403, 403, 403, 403, 403, 403, 403, 202)),
    ("GET  /api/v1/generation/jobs/{job}/",           (401, 403,  403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST /api/v1/generation/jobs/{job}/cancel/",    (401, 403,  403, 403, 403, 403, 403, 403, 200, 200)),
    ("GET  /api/v1/generation/outputs/{output}/",     (401, 403,  403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST /api/v1/generation/batches/",              (401, 403,  403, 403, 403, 403, 403, 403, 403, 202)),
    ("GET  /api/v1/generation/batches/{batch}/",      (401, 403,  403, 403, 403, 403, 403, 200, 200, 200)),
    ("GET  /api/v1/generation/outputs/{output}/download/", (401, 403, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST /api/v1/verify/",                          (202, 202,  202, 202, 202, 202, 202, 202, 202, 202)),
    ("GET  /api/v1/verify/{verification}/",           (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    # the public verify page: anyone, signed in or not; a result's permalink is its unguessable id
    ("GET  /verify/",                                 (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST /verify/",                                 (303, 303,  303, 303, 303, 303, 303, 303, 303, 303)),
    ("GET  /verify/{verification}/",                  (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET  /verify/{finished_verification}/report/",  (200, 200,  200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST /verify/{finished_verification}/report/",  (303, 303,  303, 303, 303, 303, 303, 303, 303, 303)),
    ("GET  /verify/{signed_verification}/report/file/", (200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
]
# fmt: on


# -- the routes, read from the URLconf ----------------------------------------------------------
PLACEHOLDER = re.compile(r"<[^>]+>|\{[^}]+\}")
UNLISTED_METHODS = {"options", "head", "trace"}  # answered by the framework for every route


def _view_methods(callback: Callable) -> list[str]:
    """The methods a route's view implements: a DRF viewset's actions, a class-based view's
    handlers; a plain function view is taken to answer GET (decorators hide their methods)."""
    if actions := getattr(callback, "actions", None):
        return sorted(method.upper() for method in actions)
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return ["GET"]
    return [m.upper() for m in view.http_method_names if m not in UNLISTED_METHODS and hasattr(view, m)]


def _walk(patterns: list[URLPattern | URLResolver], prefix: str = "/") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            for method in _view_methods(pattern.callback):
                yield method, route


def url_routes() -> set[str]:
    """`METHOD /path/{}/` for every route of config.urls, each placeholder written `{}`."""
    return {f"{method} {PLACEHOLDER.sub('{}', route)}" for method, route in _walk(get_resolver().url_patterns)}


def _shape(line: str) -> str:
    method, template = line.split()
    return f"{method} {PLACEHOLDER.sub('{}', template)}"


def test_every_route_of_every_app_has_a_row():
    rows = {_shape(line) for line, _ in MATRIX}
    routes = url_routes()

    missing, stale = sorted(routes - rows), sorted(rows - routes)

    assert not missing, "add a row to MATRIX, with every persona's status, for: " + ", ".join(missing)
    assert not stale, "these rows of MATRIX name no route of config.urls: " + ", ".join(stale)


# -- what each row needs ------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_throttles(db):
    """The throttles count in the cache (the database's: rolled back after each test, but a
    test may run on another cache); this test asks each route ten times."""
    cache.clear()


@pytest.fixture
def finding(world: World, contributor, settings) -> Finding:
    """An open finding on a second image of carla's, flagged by the real audit pipeline."""
    return flagged_finding(settings, contributor, world.dataset, world.consent, seed=3)


@pytest.fixture
def flagged_asset(finding: Finding):
    return finding.asset


@pytest.fixture
def protected_work(tmp_path, settings) -> ProtectedWork:
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    path = tmp_path / "work.png"
    path.write_bytes(noise_png(5))
    [(_, work)] = protected_add(paths=[str(path)], owner="Acme Pictures").added
    return work


@pytest.fixture
def base_model(tiny_model_dir, ml_engineer) -> BaseModel:
    """A base model mel registered, waiting for its reviewers."""
    return registered_base_model(tiny_model_dir, ml_engineer, name="tiny-in-review")


@pytest.fixture
def background_job(reviewer) -> BackgroundJob:
    """A check of the audit chain rita started (no worker runs it)."""
    return background_start(kind=AUDITLOG_VERIFY_KIND, actor=reviewer, params={})


@pytest.fixture
def upload_session(world, contributor) -> UploadSession:
    """carla's upload with one file received, not yet processed."""
    session = upload_session_start(contributor=contributor.contributor, dataset_id=world.dataset.pk, consent_id=world.consent.pk)
    upload_receive(session=session, name="first.jpg", upload=jpeg("first.jpg", seed=4))
    return session


@pytest.fixture
def export_job(world, compliance, settings, tmp_path) -> BackgroundJob:
    """cora's CSV of the world's snapshot, written in-process under the test's own folder."""
    settings.DATA_DIR = tmp_path / "data"
    job = export_start(subject="snapshot", subject_id=str(world.snapshot.pk), format_name="csv", actor=compliance)
    return background_run(job.pk)


@pytest.fixture
def trainable(world, contributor, reviewer, second_reviewer, ml_engineer, operator, tiny_model_dir) -> TrainableWorld:
    """An approved snapshot (dataset `governed`) and an approved base model, beside the world."""
    return trainable_world(
        contributor=contributor,
        reviewer=reviewer,
        second_reviewer=second_reviewer,
        ml_engineer=ml_engineer,
        operator=operator,
        base_dir=tiny_model_dir,
        slug="governed",
    )


@pytest.fixture
def run(trainable, ml_engineer) -> TrainingRun:
    """mel's queued run (no worker runs it)."""
    return requested_run(trainable.snapshot, trainable.base_model, ml_engineer)


@pytest.fixture
def trained(trainable, ml_engineer, pki, settings, tmp_path) -> Iterator[ModelWorld]:
    """mel's LoRA, trained in-process on the CPU."""
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    output_index_forget()
    yield model_world(trainable, ml_engineer=ml_engineer)
    output_index_forget()


@pytest.fixture
def model(trained) -> ModelArtifact:
    return trained.model


@pytest.fixture
def job(trained, product) -> GenerationJob:
    """pia's queued job (no worker runs it)."""
    return requested_job(trained.model, product)


@pytest.fixture
def batch(trained, product) -> GenerationBatch:
    """pia's queued batch of two prompts (no worker runs it)."""
    return generation_batch_request(
        model_id=trained.model.pk, prompts=["a lighthouse", "a harbour"], parameters={"width": SIZE, "height": SIZE, **FAST},
        actor=product,
    )  # fmt: skip


@pytest.fixture
def output(trained, product) -> Output:
    """pia's released output, run in-process."""
    return released(trained, product)[0]


def noise_png(seed: int = 0) -> bytes:
    """An image with no manifest: the verify service queues it for a worker."""
    return png(Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)))


@pytest.fixture
def verification(pki) -> Verification:
    """A stranger's image asked about; the organisation's trust anchors exist, as in production."""
    return verification_of(noise_png(1))


@pytest.fixture
def finished_verification(verification) -> Verification:
    """The stranger's image, searched in-process as the worker would: unknown."""
    verification_run(verification_id=verification.pk, task_id=verification.task_id)
    verification.refresh_from_db()
    return verification


@pytest.fixture
def signed_verification(finished_verification) -> Verification:
    """Its signed report, signed in-process as the worker would."""
    verification_report_sign(verification_id=finished_verification.pk)
    return finished_verification


# -- the requests -------------------------------------------------------------------------------
@dataclass
class Body:
    data: dict[str, Any] = field(default_factory=dict)
    format: str = "json"
    headers: dict[str, str] = field(default_factory=dict)  # as the test client takes them: HTTP_…


class Scene:
    """The world of one row; anything more (a finding, a model) is built when first asked for."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)

    def needs(self, *names: str) -> None:
        for name in names:
            self._request.getfixturevalue(name)


def _login_body(scene: Scene, user) -> Body:
    # A wrong password for the anonymous caller: the form answers 200 with its errors.
    return Body({"username": "nobody", "password": "not a password"}, "multipart")


def _password_body(scene: Scene, user) -> Body:
    # The right current password and a new one the validators accept: the change is made (302
    # to the home page); a PUT carries no form fields Django reads, so the form comes back (200).
    new = "a quiet harbour at dawn"
    return Body({"old_password": PASSWORD, "new_password1": new, "new_password2": new}, "multipart")


def _token_body(scene: Scene, user) -> Body:
    if user is None:
        return Body({"username": "nobody", "password": "not a password"})
    return Body({"username": user.username, "password": PASSWORD})


def _logout_body(scene: Scene, user) -> Body:
    # Logging out revokes the token the request is made with: each persona brings one.
    if user is None:
        return Body()
    return Body(headers={"HTTP_AUTHORIZATION": f"Token {token_issue(user=user, actor=user).key}"})


def _verify_body(scene: Scene, user) -> Body:
    scene.needs("pki")  # the organisation's trust anchors exist, as in production
    return Body({"file": SimpleUploadedFile("stranger.png", noise_png(2), "image/png")}, "multipart")


def _verify_page_body(scene: Scene, user) -> Body:
    scene.needs("pki")
    return Body({"image": SimpleUploadedFile("stranger.png", noise_png(3), "image/png")}, "multipart")


def _portal_consent_body(scene: Scene, user) -> Body:
    form = {"scopes": ["ai_training"], "agree": "on", "evidence": SimpleUploadedFile("form.pdf", b"%PDF portal form")}
    persons = {"person-TOTAL_FORMS": "0", "person-INITIAL_FORMS": "0"}
    return Body({**form, **persons}, "multipart")


def _open_findings(scene: Scene) -> int:
    # The bulk decision confirms the count it was shown: every open finding, the flagged one's too.
    scene.needs("finding")
    return Finding.objects.filter(status="open").count()


# A well-formed body for each request that needs one; everything else sends none.
BODIES: dict[str, Callable[[Scene, Any], Body]] = {
    "POST /accounts/login/": _login_body,
    "PUT /accounts/login/": _login_body,
    "POST /accounts/password/": _password_body,
    "PUT /accounts/password/": _password_body,
    "POST /api/v1/auth/token/": _token_body,
    "DELETE /api/v1/auth/token/": _logout_body,
    "POST /api/v1/contributors/": lambda s, u: Body({"email": "nina@example.com", "name": "Nina New"}),
    "POST /api/v1/datasets/": lambda s, u: Body({"slug": "landscapes", "scopes": ["ai_training"]}),
    "POST /api/v1/datasets/{dataset}/enrol/": lambda s, u: Body({"contributor": "otto@example.com"}),
    "POST /api/v1/datasets/{dataset}/unenrol/": lambda s, u: Body({"contributor": "carla@example.com"}),
    # New evidence bytes, so the grant is a new record (201) rather than the world's (200).
    "POST /api/v1/consents/": lambda s, u: Body(consent_upload("carla@example.com", evidence_bytes=b"%PDF new"), "multipart"),
    "POST /api/v1/consents/{consent}/revoke/": lambda s, u: Body({"reason": "the contributor withdrew"}),
    "POST /api/v1/consents/{consent}/renew/": lambda s, u: Body({"expires_at": None, "reason": "extended"}),
    "POST /api/v1/ingest/": lambda s, u: Body(
        {"dataset": s.world.dataset.slug, "consent_id": str(s.world.consent.pk), "files": [jpeg("new.jpg", seed=2)]},
        "multipart",
    ),
    "POST /api/v1/assets/{asset}/review/": lambda s, u: Body({"decision": "reject", "reason": "a watermark shows"}),
    "POST /api/v1/snapshots/": lambda s, u: Body({"dataset": s.world.dataset.slug}),
    "POST /api/v1/snapshots/{snapshot}/reject/": lambda s, u: Body({"reason": "needs another audit"}),
    "POST /api/v1/snapshots/{snapshot}/prove/": lambda s, u: Body({"sha256": s.world.asset.sha256}),
    "POST /api/v1/snapshots/{snapshot}/exports/": lambda s, u: Body({"format": "csv"}),
    "POST /api/v1/models/{model}/exports/": lambda s, u: Body({"format": "json"}),
    "POST /review/assets/{flagged_asset}/": lambda s, u: Body(
        {"finding": str(s.finding.pk), "decision": "dismiss", "reason": "a scan, not generated"}, "multipart"
    ),
    "POST /review/bulk/": lambda s, u: Body(
        {"decision": "dismiss", "reason": "scans, not generated", "count": _open_findings(s)}, "multipart"
    ),
    "POST /snapshots/{snapshot}/": lambda s, u: Body({"decision": "approve"}, "multipart"),
    "POST /base-models/{base_model}/": lambda s, u: Body({"decision": "approve"}, "multipart"),
    "POST /api/v1/findings/{finding}/resolve/": lambda s, u: Body({"decision": "dismiss", "reason": "a scan, not generated"}),
    "POST /api/v1/base-models/{base_model}/reject/": lambda s, u: Body({"reason": "the licence is unclear"}),
    "POST /api/v1/training-runs/": lambda s, u: Body(
        {"snapshot_id": str(s.trainable.snapshot.pk), "base_model_id": str(s.trainable.base_model.pk), "steps": 2}
    ),
    "POST /api/v1/generation/jobs/": lambda s, u: Body(
        {
            "model": str(s.trained.model.pk),
            "kind": "text_to_image",
            "prompt": "a lighthouse",
            "width": SIZE,
            "height": SIZE,
            **FAST,
        }
    ),
    "POST /api/v1/generation/batches/": lambda s, u: Body(
        {"model": str(s.trained.model.pk), "prompts": ["a lighthouse", "a harbour"], "width": SIZE, "height": SIZE, **FAST}
    ),
    "POST /api/v1/verify/": _verify_body,
    "POST /verify/": _verify_page_body,
    "POST /portal/consents/new/": _portal_consent_body,
    "POST /portal/consents/{consent}/revoke/": lambda s, u: Body({"reason": "I changed my mind"}, "multipart"),
    "POST /portal/upload/": lambda s, u: Body(
        {"dataset": str(s.world.dataset.pk), "consent": str(s.world.consent.pk), "images": [jpeg("new.jpg", seed=2)]}, "multipart"
    ),
    "POST /portal/upload/start/": lambda s, u: Body(
        {"dataset": str(s.world.dataset.pk), "consent": str(s.world.consent.pk)}, "multipart"
    ),
    "POST /portal/upload/{upload_session}/files/": lambda s, u: Body(
        {"name": "more.jpg", "file": jpeg("more.jpg", seed=5)}, "multipart"
    ),
    "POST /portal/check/": lambda s, u: Body({"image": jpeg("mine.jpg", seed=1)}, "multipart"),
}


def _url(template: str, scene: Scene) -> str:
    """The row's URL; only the objects it names are built."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "dataset":
            return scene.world.dataset.slug
        if name == "thumbnail_size":
            return "256"
        if name == "export_format":
            return "csv"
        if name == "model_format":
            return "json"
        if name in ("consent", "asset", "snapshot"):
            return str(getattr(scene.world, name).pk)
        return str(getattr(scene, name).pk)

    return re.sub(r"\{(\w+)\}", value, template)


@pytest.mark.parametrize(
    ("line", "statuses"), [pytest.param(line, statuses, id=" ".join(line.split())) for line, statuses in MATRIX]
)
def test_each_persona_gets_exactly_the_status_the_matrix_says(
    line: str, statuses: tuple[int, ...], world: World, client_for, request: pytest.FixtureRequest
) -> None:
    method, template = line.split()
    scene = Scene(request)
    url = _url(template, scene)
    make_body = BODIES.get(f"{method} {template}", lambda s, u: Body())
    mismatches = []
    for persona, expected in zip(PERSONAS, statuses, strict=True):
        user = None if persona == "anonymous" else request.getfixturevalue(persona)
        body = make_body(scene, user)
        # Each persona's request is undone afterwards, so the next one meets the same world.
        with transaction.atomic():
            try:
                response = getattr(client_for(user), method.lower())(url, body.data, format=body.format, **body.headers)
                # A streamed answer (an image) has no .content; its status says enough.
                got, detail = response.status_code, b"" if response.streaming else response.content[:300]
            except Exception as error:  # a crash is a status too: report it beside the others
                got, detail = 500, repr(error)
            transaction.set_rollback(True)
        if got != expected:
            mismatches.append(f"{persona}: expected {expected}, got {got}: {detail!r}")

    assert mismatches == [], f"{method} {url}\n" + "\n".join(mismatches)
