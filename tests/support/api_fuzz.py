"""What the API schema fuzz tests share: the personas, the world every operation can name, and
one persona's run of schemathesis over an operation (in-process through WSGI, or over HTTP
against gunicorn: tests/core/test_api_schema_fuzz*.py).

The world is built through the services, as the permission matrix builds it; the organisation's
signing identity exists, as in production. `settings` is any object whose attributes are
Django settings that can be set (pytest-django's `settings`, or a module-wide override).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from core.background import background_run
from core.roles import Role
from core.tokens import token_issue
from provenance.exports.jobs import export_start
from provenance.services.contributors import contributor_add
from tests.auditing.factories import flagged_finding
from tests.core.factories import user_with_role
from tests.generation.factories import png, released, requested_batch, requested_job, verification_of
from tests.support.pki import pki_install
from tests.support.worlds import api_world, model_world, trainable_world
from tests.training.factories import registered_base_model, requested_run

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


class ModuleSettings:
    """pytest-django's `settings`, for a whole module: each change is undone by `restore`."""

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


def fuzz_world_build(settings: Any, folder: Path, tiny_model_dir: Path) -> FuzzWorld:
    """Every kind of object an operation can name; a token for each persona."""
    pki_install(settings, folder / "pki")
    users = {persona: user_with_role(name, PERSONAS.get(persona, Role.REVIEWER)) for persona, name in USERNAMES.items()}
    contributor_add(email="carla@example.com", name="Carla Contributor", username="carla")
    world = api_world(
        contributor=users["contributor"],
        reviewer=users["reviewer"],
        ml_engineer=users["ml_engineer"],
        operator=users["operator"],
    )
    finding = flagged_finding(settings, users["contributor"], world.dataset, world.consent, seed=3)
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
        "/api/v1/generation/batches/": requested_batch(trained.model, users["product"]).pk,
        "/api/v1/generation/outputs/": output.pk,
        "/api/v1/verify/": verification_of(png(noise)).pk,
        "/api/v1/exports/": export.pk,
    }
    tokens = {persona: token_issue(user=user, actor=user).key for persona, user in users.items()}
    return FuzzWorld(tokens=tokens, known_ids={prefix: str(value) for prefix, value in known_ids.items()})


def operation_strategies(operation: Any, known_ids: dict[str, str]) -> list[Any]:
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        known = next((value for prefix, value in known_ids.items() if operation.path.startswith(prefix)), None)
        assert known is not None, f"{operation.label}: add a real object for its path to fuzz_world_build's known_ids"
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters={names[0]: known}) for mode in GenerationMode]
    return strategies


def persona_violations(
    strategies: list[Any], persona: str, token: str | None, *, examples: int = EXAMPLES, **call: Any
) -> list[str]:
    """What the checks found in the answers to this persona's examples (`examples` per strategy,
    all of them checked: no shrinking); `call` goes to each request (a base URL, extra headers)."""
    headers = {**call.pop("headers", {}), **({"Authorization": f"Token {token}"} if token else {})}
    found: list[str] = []

    @hypothesis_settings(
        max_examples=examples * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=["explicit", "generate"],
    )
    @given(case=st.one_of(strategies))
    def answers_as_declared(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS, **call)
        except BaseExceptionGroup as failures:
            found.extend(
                f"{persona}: {failure.title}: {' '.join(str(failure.message).split())}" for failure in failures.exceptions
            )

    answers_as_declared()
    return found
