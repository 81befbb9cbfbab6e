"""The OpenAPI schema and the API's answers agree, for every operation and every persona.

schemathesis reads the schema the running app serves (`/api/v1/schema/`, in-process through
WSGI) and sends each operation requests generated from it: bodies, query strings and path ids
that fit the schema (positive) and ones that do not (negative), with random ids and with the ids
of real objects of the world below. Each answer must be no server error, and its status, content
type and body must be ones the schema declares for that operation.

Each operation is one test: every persona in turn (anonymous, no role, then each role, with a
token of their own), a bounded number of examples each, generation derandomized so every run
sends the same requests. The world is built once for the module, through the services, in a
transaction that is rolled back at the end; each test runs in a savepoint of it, so every test
meets the same world.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from core.background import background_run
from core.roles import Role
from core.tokens import token_issue
from generation.output_index import output_index_forget
from provenance.exports.jobs import export_start
from provenance.services.contributors import contributor_add
from tests.auditing.factories import flagged_finding
from tests.core.factories import user_with_role
from tests.generation.factories import png, released, requested_job, verification_of
from tests.support.pki import pki_install
from tests.support.worlds import api_world, model_world, trainable_world
from tests.training.factories import registered_base_model, requested_run

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Examples per persona and strategy (positive and negative, with random ids and with real ones):
# up to 16 requests per persona and operation, ~5,000 in all. CLEANROOM_FUZZ_EXAMPLES=50 digs deeper.
EXAMPLES = int(os.environ.get("CLEANROOM_FUZZ_EXAMPLES") or 4)
# No role (oscar), then each role; "anonymous" sends no credentials.
PERSONAS = {
    "anonymous": None,
    "outsider": None,
    "contributor": Role.CONTRIBUTOR,
    "reviewer": Role.REVIEWER,
    "ml_engineer": Role.ML_ENGINEER,
    "compliance": Role.COMPLIANCE,
    "operator": Role.OPERATOR,
    "product": Role.PRODUCT,
}
USERNAMES = {
    "outsider": "oscar",
    "contributor": "carla",
    "reviewer": "rita",
    "second_reviewer": "ravi",
    "ml_engineer": "mel",
    "compliance": "cora",
    "operator": "opal",
    "product": "pia",
}

SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


class _ModuleSettings:
    """pytest-django's `settings`, for the whole module: each change is undone by `restore`."""

    def __init__(self) -> None:
        object.__setattr__(self, "_overrides", [])

    def __setattr__(self, name: str, value: Any) -> None:
        override = override_settings(**{name: value})
        override.enable()
        self._overrides.append(override)

    def __getattr__(self, name: str) -> Any:
        from django.conf import settings as django_settings

        return getattr(django_settings, name)

    def restore(self) -> None:
        for override in reversed(self._overrides):
            override.disable()


@dataclass
class FuzzWorld:
    tokens: dict[str, str]
    known_ids: dict[str, str]  # path prefix -> the id of a real object there


@pytest.fixture(autouse=True)
def _blob_storage_per_test() -> None:
    """The root conftest's per-test folders would hide the module world's blobs: it has its own."""


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory, tiny_model_dir) -> Iterator[FuzzWorld]:
    """Every kind of object an operation can name, through the services, as the permission
    matrix builds them; the organisation's signing identity exists, as in production."""
    folder = tmp_path_factory.mktemp("fuzz-world")
    module_settings = _ModuleSettings()
    module_settings.STORAGES = {
        **module_settings.STORAGES,
        "blobs": {"BACKEND": "core.storage.ContentAddressedFileSystemStorage", "OPTIONS": {"location": str(folder / "blobs")}},
    }
    module_settings.CLEANROOM_DO_NOT_TRAIN_FILE = str(folder / "do-not-train.txt")
    module_settings.CLEANROOM_MODELS_DIR = folder / "models"
    module_settings.CLEANROOM_INDEX_DIR = folder / "indexes"
    module_settings.DATA_DIR = folder / "data"  # where background exports write
    module_settings.CLEANROOM_TRAINING = {**module_settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    module_settings.CLEANROOM_GENERATION = {**module_settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    output_index_forget()
    with django_db_blocker.unblock(), transaction.atomic():
        pki_install(module_settings, folder / "pki")
        users = {persona: user_with_role(name, PERSONAS.get(persona, Role.REVIEWER)) for persona, name in USERNAMES.items()}
        contributor_add(email="carla@example.com", name="Carla Contributor", username="carla")
        world = api_world(
            contributor=users["contributor"],
            reviewer=users["reviewer"],
            ml_engineer=users["ml_engineer"],
            operator=users["operator"],
        )
        finding = flagged_finding(module_settings, users["contributor"], world.dataset, world.consent, seed=3)
        trainable = trainable_world(
            contributor=users["contributor"],
            reviewer=users["reviewer"],
            second_reviewer=users["second_reviewer"],
            ml_engineer=users["ml_engineer"],
            operator=users["operator"],
            base_dir=tiny_model_dir,
            slug="governed",
        )
        trained = model_world(trainable, ml_engineer=users["ml_engineer"])
        output, _ = released(trained, users["product"])
        export = export_start(subject="snapshot", subject_id=str(world.snapshot.pk), format_name="csv", actor=users["compliance"])
        background_run(export.pk)
        noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        known_ids = {
            "/api/v1/assets/": world.asset.pk,
            "/api/v1/consents/": world.consent.pk,
            "/api/v1/snapshots/": world.snapshot.pk,
            "/api/v1/datasets/": world.dataset.slug,
            "/api/v1/findings/": finding.pk,
            "/api/v1/base-models/": registered_base_model(tiny_model_dir, users["ml_engineer"], name="tiny-in-review").pk,
            "/api/v1/training-runs/": requested_run(trainable.snapshot, trainable.base_model, users["ml_engineer"]).pk,
            "/api/v1/models/": trained.model.pk,
            "/api/v1/generation/jobs/": requested_job(trained.model, users["product"]).pk,
            "/api/v1/generation/outputs/": output.pk,
            "/api/v1/verify/": verification_of(png(noise)).pk,
            "/api/v1/exports/": export.pk,
        }
        tokens = {persona: token_issue(user=user, actor=user).key for persona, user in users.items()}
        yield FuzzWorld(tokens=tokens, known_ids={prefix: str(value) for prefix, value in known_ids.items()})
        transaction.set_rollback(True)
    output_index_forget()
    module_settings.restore()


@pytest.fixture
def in_process_wsgi(db) -> Iterator[None]:
    """Requests run on the test's own database connection, inside its transaction, as with
    Django's test client: a request must not close the connection when it starts or ends."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _strategies(operation: Any, known_ids: dict[str, str]) -> list[Any]:
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        known = next((value for prefix, value in known_ids.items() if operation.path.startswith(prefix)), None)
        assert known is not None, f"{operation.label}: add a real object for its path to fuzz_world's known_ids"
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters={names[0]: known}) for mode in GenerationMode]
    return strategies


def _violations(strategies: list[Any], persona: str, token: str | None) -> list[str]:
    """What the checks found in the answers to this persona's examples (all of them: no shrinking)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=["explicit", "generate"],
    )
    @given(case=st.one_of(strategies))
    def answers_as_declared(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except BaseExceptionGroup as failures:
            found.extend(
                f"{persona}: {failure.title}: {' '.join(str(failure.message).split())}" for failure in failures.exceptions
            )

    answers_as_declared()
    return found


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_answer_is_one_the_schema_declares_for_every_persona(operation, fuzz_world: FuzzWorld, in_process_wsgi) -> None:
    strategies = _strategies(operation, fuzz_world.known_ids)
    violations: list[str] = []
    for persona in PERSONAS:
        cache.clear()  # each persona starts with the throttles' counts at zero
        violations += _violations(strategies, persona, fuzz_world.tokens.get(persona))

    assert violations == [], f"{operation.label}: {len(violations)} violation(s)\n" + "\n".join(sorted(set(violations)))
