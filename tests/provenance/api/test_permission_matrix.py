"""Every endpoint × every persona, with the exact status each one gets.

Read a row as: "this request, made by each persona in turn, answers these statuses". 401 means
no credentials, 403 the wrong role, 404 another user's object (its existence never leaks).
Each request is well-formed, so a persona that is let in gets the endpoint's success status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from auditing.api import urls as auditing_api_urls
from auditing.models import Finding
from provenance.api import urls as api_urls
from tests.auditing.factories import flagged_finding
from tests.core.factories import PASSWORD
from tests.provenance.factories import consent_upload, jpeg
from tests.support.worlds import World

PERSONAS = (
    "anonymous", "outsider", "contributor", "other_contributor", "reviewer", "second_reviewer",
    "ml_engineer", "compliance", "operator",
)  # fmt: skip

# fmt: off
MATRIX: list[tuple[str, tuple[int, ...]]] = [
    #  request                                        anon oscar carla otto rita ravi  mel cora opal
    ("GET  /",                                        (200, 200,  200, 200, 200, 200, 200, 200, 200)),
    ("GET  /accounts/login/",                         (200, 302,  302, 302, 302, 302, 302, 302, 302)),
    ("POST /accounts/logout/",                        (302, 302,  302, 302, 302, 302, 302, 302, 302)),
    ("GET  /api/v1/schema/",                          (200, 200,  200, 200, 200, 200, 200, 200, 200)),
    ("GET  /api/v1/docs/",                            (200, 200,  200, 200, 200, 200, 200, 200, 200)),
    ("POST /api/v1/auth/token/",                      (400, 200,  200, 200, 200, 200, 200, 200, 200)),
    ("GET  /api/v1/contributors/",                    (401, 403,  403, 403, 200, 200, 403, 200, 200)),
    ("POST /api/v1/contributors/",                    (401, 403,  403, 403, 403, 403, 403, 403, 201)),
    ("GET  /api/v1/datasets/",                        (401, 403,  200, 200, 200, 200, 200, 200, 200)),
    ("POST /api/v1/datasets/",                        (401, 403,  403, 403, 403, 403, 201, 403, 201)),
    ("GET  /api/v1/datasets/{dataset}/",              (401, 403,  200, 404, 200, 200, 200, 200, 200)),
    ("GET  /api/v1/consents/",                        (401, 403,  200, 200, 200, 200, 403, 200, 200)),
    ("POST /api/v1/consents/",                        (401, 403,  201, 403, 403, 403, 403, 403, 201)),
    ("GET  /api/v1/consents/{consent}/",              (401, 403,  200, 404, 200, 200, 403, 200, 200)),
    ("POST /api/v1/consents/{consent}/revoke/",       (401, 403,  200, 404, 200, 200, 403, 403, 200)),
    ("POST /api/v1/consents/{consent}/renew/",        (401, 403,  200, 404, 200, 200, 403, 403, 200)),
    ("POST /api/v1/ingest/",                          (401, 403,  200, 404, 403, 403, 403, 403, 200)),
    ("GET  /api/v1/assets/",                          (401, 403,  200, 200, 200, 200, 403, 200, 200)),
    ("GET  /api/v1/assets/{asset}/",                  (401, 403,  200, 404, 200, 200, 403, 200, 200)),
    ("POST /api/v1/assets/{asset}/review/",           (401, 403,  403, 403, 200, 200, 403, 403, 403)),
    ("GET  /api/v1/snapshots/",                       (401, 403,  403, 403, 200, 200, 200, 200, 200)),
    ("POST /api/v1/snapshots/",                       (401, 403,  403, 403, 403, 403, 201, 403, 201)),
    ("GET  /api/v1/snapshots/{snapshot}/",            (401, 403,  403, 403, 200, 200, 200, 200, 200)),
    ("POST /api/v1/snapshots/{snapshot}/approve/",    (401, 403,  403, 403, 200, 200, 403, 403, 403)),
    ("POST /api/v1/snapshots/{snapshot}/reject/",     (401, 403,  403, 403, 200, 200, 403, 403, 403)),
    ("POST /api/v1/snapshots/{snapshot}/prove/",      (401, 403,  403, 403, 200, 200, 200, 200, 200)),
    ("GET  /api/v1/audit-events/",                    (401, 403,  403, 403, 403, 403, 403, 200, 200)),
    ("GET  /api/v1/audit-events/verify/",             (401, 403,  403, 403, 403, 403, 403, 200, 200)),
    ("GET  /api/v1/findings/",                        (401, 403,  200, 200, 200, 200, 403, 200, 200)),
    ("GET  /api/v1/findings/{finding}/",              (401, 403,  200, 404, 200, 200, 403, 200, 200)),
    ("POST /api/v1/findings/{finding}/resolve/",      (401, 403,  403, 403, 200, 200, 403, 403, 403)),
    ("GET  /api/v1/assets/{asset}/findings/",         (401, 403,  200, 404, 200, 200, 403, 200, 200)),
    ("GET  /api/v1/datasets/{dataset}/findings/",     (401, 403,  200, 404, 200, 200, 403, 200, 200)),
    ("POST /api/v1/datasets/{dataset}/audit/",        (401, 403,  403, 403, 403, 403, 202, 403, 202)),
]
# fmt: on


@dataclass
class Body:
    data: dict[str, Any] = field(default_factory=dict)
    format: str = "json"


def _token_body(world: World, user) -> Body:
    if user is None:
        return Body({"username": "nobody", "password": "not a password"})
    return Body({"username": user.username, "password": PASSWORD})


# A well-formed body for each request that needs one; everything else sends none.
BODIES: dict[str, Callable[[World, Any], Body]] = {
    "POST /api/v1/auth/token/": _token_body,
    "POST /api/v1/contributors/": lambda w, u: Body({"email": "nina@example.com", "name": "Nina New"}),
    "POST /api/v1/datasets/": lambda w, u: Body({"slug": "landscapes", "scopes": ["ai_training"]}),
    # New evidence bytes, so the grant is a new record (201) rather than the world's (200).
    "POST /api/v1/consents/": lambda w, u: Body(consent_upload("carla@example.com", evidence_bytes=b"%PDF new"), "multipart"),
    "POST /api/v1/consents/{consent}/revoke/": lambda w, u: Body({"reason": "the contributor withdrew"}),
    "POST /api/v1/consents/{consent}/renew/": lambda w, u: Body({"expires_at": None, "reason": "extended"}),
    "POST /api/v1/ingest/": lambda w, u: Body(
        {"dataset": w.dataset.slug, "consent_id": str(w.consent.pk), "files": [jpeg("new.jpg", seed=2)]}, "multipart"
    ),
    "POST /api/v1/assets/{asset}/review/": lambda w, u: Body({"decision": "reject", "reason": "a watermark shows"}),
    "POST /api/v1/snapshots/": lambda w, u: Body({"dataset": w.dataset.slug}),
    "POST /api/v1/snapshots/{snapshot}/reject/": lambda w, u: Body({"reason": "needs another audit"}),
    "POST /api/v1/snapshots/{snapshot}/prove/": lambda w, u: Body({"sha256": w.asset.sha256}),
    "POST /api/v1/findings/{finding}/resolve/": lambda w, u: Body({"decision": "dismiss", "reason": "a scan, not generated"}),
}

CASES = [
    pytest.param(line, persona, expected, id=f"{' '.join(line.split())} as {persona} -> {expected}")
    for line, statuses in MATRIX
    for persona, expected in zip(PERSONAS, statuses, strict=True)
]


@pytest.fixture
def finding(world: World, contributor, settings) -> Finding:
    """An open finding on a second image of carla's, flagged by the real audit pipeline."""
    return flagged_finding(settings, contributor, world.dataset, world.consent, seed=3)


def test_the_matrix_has_a_row_for_every_api_route() -> None:
    routes = {
        "/api/v1/" + str(pattern.pattern).replace("<slug:slug>", "{dataset}").replace("<uuid:pk>", "{id}")
        for pattern in [*api_urls.urlpatterns, *auditing_api_urls.urlpatterns]
    }
    rows = {re.sub(r"\{(consent|asset|snapshot|finding)\}", "{id}", line.split()[1]) for line, _ in MATRIX}

    assert routes - rows == set()


@pytest.mark.parametrize(("line", "persona", "expected"), CASES)
def test_each_persona_gets_exactly_the_status_the_matrix_says(
    line: str, persona: str, expected: int, world: World, client_for, request: pytest.FixtureRequest
) -> None:
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    method, template = line.split()
    # Only the rows that name a finding build one, so every other row sees the world unchanged.
    finding = request.getfixturevalue("finding").pk if "{finding}" in template else None
    url = template.format(
        dataset=world.dataset.slug,
        consent=world.consent.pk,
        asset=world.asset.pk,
        snapshot=world.snapshot.pk,
        finding=finding,
    )
    body = BODIES.get(f"{method} {template}", lambda w, u: Body())(world, user)
    response = getattr(client_for(user), method.lower())(url, body.data, format=body.format)

    assert response.status_code == expected, response.content[:400]
