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

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction

from generation.output_index import output_index_forget
from tests.support.api_fuzz import (
    PERSONAS,
    FuzzWorld,
    ModuleSettings,
    fuzz_world_build,
    operation_strategies,
    persona_violations,
)

pytestmark = pytest.mark.slow

SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(autouse=True)
def _blob_storage_per_test() -> None:
    """The root conftest's per-test folders would hide the module world's blobs: it has its own."""


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory, tiny_model_dir) -> Iterator[FuzzWorld]:
    """Every kind of object an operation can name, through the services, as the permission
    matrix builds them; the organisation's signing identity exists, as in production."""
    folder = tmp_path_factory.mktemp("fuzz-world")
    module_settings = ModuleSettings()
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
        yield fuzz_world_build(module_settings, folder, tiny_model_dir)
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


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_answer_is_one_the_schema_declares_for_every_persona(operation, fuzz_world: FuzzWorld, in_process_wsgi) -> None:
    strategies = operation_strategies(operation, fuzz_world.known_ids)
    violations: list[str] = []
    for persona in PERSONAS:
        cache.clear()  # each persona starts with the throttles' counts at zero
        violations += persona_violations(strategies, persona, fuzz_world.tokens.get(persona))

    assert violations == [], f"{operation.label}: {len(violations)} violation(s)\n" + "\n".join(sorted(set(violations)))
