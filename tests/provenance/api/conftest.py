"""A small governed world for the API tests, built through the services.

carla (contributor) granted a consent and uploaded one image to the `portraits` dataset; rita
approved it; mel (ML engineer) froze the dataset into a snapshot that now waits for review.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from provenance.consent_document import parse_consent_bytes
from provenance.models import Asset, ConsentRecord, Contributor, Dataset, Snapshot
from provenance.services.assets import asset_review
from provenance.services.consent import consent_grant, evidence_opener_for_uploads
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_uploads
from provenance.services.snapshots import snapshot_create
from tests.provenance.factories import image_bytes

PASSWORD = "correct horse battery staple"  # tests.core.factories.UserFactory's password


def consent_json(email: str, *, evidence: str = "form.pdf", **overrides: object) -> bytes:
    document = {
        "contributor": email,
        "scopes": ["ai_training", "generative_training"],
        "terms_version": "2026-01",
        "granted_at": "2026-01-01T00:00:00Z",
        "expires_at": None,
        "evidence": evidence,
        **overrides,
    }
    return json.dumps(document).encode()


def consent_upload(email: str, *, evidence_bytes: bytes = b"%PDF-1.4 signed form", **overrides: object) -> dict:
    """The multipart body of POST /api/v1/consents/."""
    return {
        "contributor": email,
        "document": SimpleUploadedFile("consent.json", consent_json(email, **overrides), "application/json"),
        "evidence": [SimpleUploadedFile("form.pdf", evidence_bytes, "application/pdf")],
    }


def jpeg(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(seed), "image/jpeg")


def zip_of(name: str, members: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return SimpleUploadedFile(name, buffer.getvalue(), "application/zip")


def grant_consent(user, email: str, *, evidence_bytes: bytes = b"%PDF-1.4 signed form") -> ConsentRecord:
    """Record a consent through the service, as the API does."""
    evidence = SimpleUploadedFile("form.pdf", evidence_bytes)
    consent, _ = consent_grant(
        document=parse_consent_bytes(consent_json(email)),
        contributor=Contributor.objects.get(email=email),
        open_evidence=evidence_opener_for_uploads([evidence]),
        actor=user,
    )
    return consent


def ingest(user, dataset: Dataset, consent: ConsentRecord, *files: SimpleUploadedFile) -> dict:
    return ingest_uploads(files=[(f.name, f) for f in files], dataset=dataset, consent=consent, source=None, actor=user)


@dataclass
class World:
    dataset: Dataset
    consent: ConsentRecord
    asset: Asset
    snapshot: Snapshot


@pytest.fixture
def world(contributor, other_contributor, reviewer, second_reviewer, ml_engineer, compliance, operator, outsider) -> World:
    dataset = dataset_create(slug="portraits", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    result = ingest(contributor, dataset, consent, jpeg("carla.jpg", seed=1))
    asset = asset_review(asset_id=result["accepted"][0]["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    created = snapshot_create(dataset_slug="portraits", actor=ml_engineer)
    return World(dataset=dataset, consent=consent, asset=asset, snapshot=Snapshot.objects.get(pk=created["snapshot_id"]))


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
