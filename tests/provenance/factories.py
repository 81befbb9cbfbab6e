"""Factories and file builders for provenance tests.

Images are made in code (seeded noise, so every seed gives different bytes). Consent records
that tests need in bulk are written directly; anything a test is *about* goes through services.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import factory
import numpy as np
from PIL import Image

from provenance.models import Asset, AssetStatus, ConsentRecord, Contributor, Dataset, DatasetMembership, EvidenceDocument


def image_bytes(seed: int = 0, *, size: tuple[int, int] = (64, 64), fmt: str = "JPEG", **save_args) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def write_image(path: Path, seed: int = 0, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(seed, **kwargs))
    return path


def write_consent(
    folder: Path,
    *,
    contributor: str,
    scopes: list[str] = ("ai_training", "generative_training"),
    expires_at: str | None = None,
    granted_at: str = "2026-01-01T00:00:00Z",
    evidence: bytes = b"%PDF-1.4 signed consent form",
    name: str = "consent.json",
    **extra,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evidence.pdf").write_bytes(evidence)
    document = {
        "contributor": contributor,
        "scopes": list(scopes),
        "terms_version": "2026-01",
        "granted_at": granted_at,
        "expires_at": expires_at,
        "evidence": "evidence.pdf",
        **extra,
    }
    path = folder / name
    path.write_text(json.dumps(document))
    return path


class ContributorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contributor

    email = factory.Sequence(lambda n: f"contributor{n}@example.com")
    name = factory.Faker("name")


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvidenceDocument
        django_get_or_create = ("sha256",)

    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"evidence {n}".encode()).hexdigest())
    size = 100
    original_name = "form.pdf"


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentRecord

    contributor = factory.SubFactory(ContributorFactory)
    scopes = ["ai_training", "generative_training"]
    terms_version = "2026-01"
    granted_at = datetime(2026, 1, 1, tzinfo=UTC)
    expires_at = None
    evidence = factory.SubFactory(EvidenceFactory)
    digest = factory.Sequence(lambda n: hashlib.sha256(f"consent {n}".encode()).hexdigest())
    document = factory.LazyAttribute(lambda c: {"scopes": c.scopes})
    recorded_by = "system"


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"asset {n}".encode()).hexdigest())
    size = 1000
    format = "JPEG"
    mime_type = "image/jpeg"
    width = 64
    height = 64
    status = AssetStatus.CLEAR
    original_name = factory.Sequence(lambda n: f"image{n}.jpg")
    phash = "0" * 16
    dhash = "0" * 16
    consent = factory.SubFactory(ConsentFactory)
    contributor = factory.SelfAttribute("consent.contributor")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    slug = factory.Sequence(lambda n: f"dataset-{n}")
    scopes = ["ai_training", "generative_training"]
    created_by = "system"


def add_to_dataset(dataset: Dataset, *assets: Asset) -> None:
    DatasetMembership.objects.bulk_create(DatasetMembership(dataset=dataset, asset=a) for a in assets)
