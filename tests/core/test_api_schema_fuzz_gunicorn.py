"""The OpenAPI schema and the API's answers agree over HTTP, from a real gunicorn running the
production settings, for every operation and every persona.

The same requests as tests/core/test_api_schema_fuzz.py (the same personas, examples and
derandomized generation), but sent over a socket to `cleanroom web` (gunicorn on config.wsgi:application) with two
workers and `config.settings.production`: the hashed static manifest (collectstatic into the
world's folder), the SSL redirect (each request carries `X-Forwarded-Proto: https`, as the
ingress sends it), DEBUG off and the production error pages. The world is committed to the test
database (a transactional test), where gunicorn's processes read it. One test for all the
operations: the world and the server are built once. Half the in-process test's examples per
persona and operation (at least one): the in-process test digs into the answers; this one checks
that the production stack (settings, proxy headers, static manifest, gunicorn) gives the same.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.db import connection

from generation.output_index import output_index_forget
from tests.support.api_fuzz import EXAMPLES, PERSONAS, fuzz_world_build, operation_strategies, persona_violations
from tests.support.gunicorn import gunicorn_server, production_environment

pytestmark = pytest.mark.slow

PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def test_every_answer_from_gunicorn_is_one_the_schema_declares_for_every_operation_and_persona(
    transactional_db, settings, tmp_path, tiny_model_dir
) -> None:
    # The conftest already put blobs, identity, models and indexes under tmp_path, the folder
    # gunicorn is given as its CLEANROOM_DATA_DIR.
    settings.DATA_DIR = tmp_path
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    output_index_forget()
    world = fuzz_world_build(settings, tmp_path, tiny_model_dir)
    database = connection.settings_dict
    env = production_environment(
        tmp_path, f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    violations: list[str] = []
    with gunicorn_server(env, tmp_path) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/schema/?format=json", headers=PROXY_HEADERS)
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            strategies = operation_strategies(operation, world.known_ids)
            for persona in PERSONAS:
                cache.clear()  # the throttles count in the database cache that gunicorn shares
                found = persona_violations(
                    strategies, persona, world.tokens.get(persona), examples=max(1, EXAMPLES // 2), headers=PROXY_HEADERS
                )
                violations += [f"{operation.label}: {violation}" for violation in found]
    output_index_forget()

    assert len(operations) > 40, [operation.label for operation in operations]
    assert violations == [], f"{len(violations)} violation(s)\n" + "\n".join(sorted(set(violations)))
