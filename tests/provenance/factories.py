"""Factories and file builders for provenance tests.

Images are made in code (seeded noise, so every seed gives different bytes). Two kinds of
builders live here:
- through the services (`grant_consent`, `ingest`): governance rows whose audit events a test
  may read or verify; use these for anything a test is *about*;
- factory-boy `DjangoModelFactory`s (`ContributorFactory`, `ConsentFactory`, `AssetFactory`,
  `DatasetFactory`, `add_to_dataset`): rows written directly, with no audit event, for tests
  that need many of them as scenery (training's approved snapshots).
And the request bodies of the provenance API (`consent_upload`, `jpeg`, `zip_of`).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import factory
import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from provenance.api.serializers import IngestResultSerializer
from provenance.consent_document import parse_consent_bytes
from provenance.models import Asset, AssetStatus, ConsentRecord, Contributor, Dataset, DatasetMembership, EvidenceDocument
from provenance.services.consent import consent_grant, evidence_opener_for_uploads
from provenance.services.datasets import dataset_enrol
from provenance.services.ingest import ingest_uploads


def image_bytes(seed: int = 0, *, size: tuple[int, int] = (64, 64), fmt: str = "JPEG", **save_args) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


# PNG colour types and channel counts by Pillow mode (8 bits per sample; "I;16" is 16-bit grey).
_PNG_MODES = {"L": (0, 1, 8), "I;16": (0, 1, 16), "RGB": (2, 3, 8), "LA": (4, 2, 8), "RGBA": (6, 4, 8)}


def blank_png(width: int, height: int, mode: str = "RGBA") -> bytes:
    """A valid PNG of `width`×`height` black pixels, written chunk by chunk without ever holding
    its pixels: 10000×10000 RGBA (400 MB decoded) is a few hundred kB of file."""
    colour_type, channels, depth = _PNG_MODES[mode]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + width * channels * depth // 8)  # filter byte "none", then the samples
    compressor = zlib.compressobj(9)
    rows_per_call = max(1, (8 << 20) // len(row))
    parts = []
    for start in range(0, height, rows_per_call):
        parts.append(compressor.compress(row * min(rows_per_call, height - start)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def broken_images() -> dict[str, bytes]:
    """Files that look like images and are not: truncated, cut after the header, corrupted."""
    files = {}
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"):
        whole = image_bytes(60, size=(96, 96), fmt=fmt)
        suffix = fmt.lower()
        files[f"truncated.{suffix}"] = whole[: len(whole) // 2]
        files[f"header_only.{suffix}"] = whole[:40]
        corrupt = bytearray(whole)
        corrupt[64:400] = bytes(b ^ 0x5A for b in corrupt[64:400])
        files[f"corrupt.{suffix}"] = bytes(corrupt)
    files["random.jpg"] = np.random.default_rng(61).bytes(3000)
    files["empty.png"] = b""
    return files


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


# -- through the services ---------------------------------------------------------------------
def consent_json(email: str, *, evidence: str = "form.pdf", **overrides: object) -> bytes:
    """A consent document (the `--consent FILE` format) for `email`, as bytes."""
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


def ingest(user, dataset: Dataset, consent: ConsentRecord, *files: SimpleUploadedFile, enrol: bool = True) -> dict:
    """Ingest uploaded files through the service as `user`, as the API does; returns its JSON.
    With `enrol` the consent's contributor is first enrolled in the dataset (by the platform),
    as an ML engineer or operator would have done before a contributor's upload."""
    if enrol:
        dataset_enrol(dataset=dataset, contributor=consent.contributor)
    return IngestResultSerializer(
        ingest_uploads(files=[(f.name, f) for f in files], dataset_slug=dataset.slug, consent=consent, source=None, actor=user)
    ).data


def write_multipart(
    path: Path, fields: dict[str, str], files: list[tuple[str, str, Iterable[bytes]]], boundary: str = "cleanroom-boundary"
) -> tuple[int, str]:
    """A multipart/form-data body written to `path` piece by piece, so that a test can send an
    upload larger than it would want to hold. `files` are `(field name, file name, chunks)`.
    Returns the body's size and its Content-Type."""
    with path.open("wb") as body:
        for name, value in fields.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, file_name, chunks in files:
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n".encode()
            )
            for chunk in chunks:
                body.write(chunk)
            body.write(b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
    return path.stat().st_size, f"multipart/form-data; boundary={boundary}"


def raw_multipart(parts: list[tuple[str, bytes | None, bytes]], boundary: str = "cleanroom-boundary") -> tuple[bytes, str]:
    """A multipart/form-data body written byte by byte, for parts no client library would send
    (a file name that is not UTF-8). Each part is `(field name, file name bytes or None for a
    plain field, content)`. Returns the body and its Content-Type."""
    body = b""
    for name, file_name, content in parts:
        disposition = f'Content-Disposition: form-data; name="{name}"'.encode()
        if file_name is not None:
            disposition += b'; filename="' + file_name + b'"\r\nContent-Type: application/octet-stream'
        body += b"--" + boundary.encode() + b"\r\n" + disposition + b"\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"
