"""A model chain built with the public API (snapshot container → model container → ingredient
archive → output image), for tests that need a realistic signed output."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from provenance.c2pa.manifests import (
    CONTAINER_MIME_TYPE,
    Ingredient,
    ingredient_archive,
    sign_container,
    sign_image,
    soft_binding_assertion,
    training_mining_assertion,
)
from tests.provenance.ingest import images

MERKLE_ROOT = "7e" * 32
BASE_WEIGHTS = "ba" * 32


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Chain:
    snapshot: bytes
    model: bytes
    archive: bytes


def build_chain() -> Chain:
    snapshot = sign_container(
        files={"snapshot.json": b'{"id": "s-1"}'},
        title="snapshot s-1",
        assertions=[{"label": "org.cleanroom.snapshot", "data": {"snapshot_id": "s-1", "merkle_root": MERKLE_ROOT}}],
    )
    model = sign_container(
        files={"model.json": b'{"id": "m-1"}'},
        title="model m-1",
        assertions=[{"label": "org.cleanroom.model", "data": {"model_id": "m-1", "sha256": "a1" * 32}}],
        ingredients=[
            Ingredient(
                title="snapshot s-1",
                mime_type=CONTAINER_MIME_TYPE,
                data=snapshot,
                data_types=["c2pa.types.dataset"],
                metadata={"org.cleanroom.sha256": sha256(snapshot), "org.cleanroom.merkle_root": MERKLE_ROOT},
            ),
            Ingredient(
                title="tiny-sd base model",
                mime_type="application/octet-stream",
                data_types=["c2pa.types.model"],
                metadata={
                    "org.cleanroom.sha256": BASE_WEIGHTS,
                    "org.cleanroom.files": [{"path": "unet.safetensors", "sha256": "0f" * 32}],
                },
            ),
        ],
    )
    archive = ingredient_archive(
        Ingredient(
            title="model m-1",
            mime_type=CONTAINER_MIME_TYPE,
            data=model,
            data_types=["c2pa.types.model"],
            metadata={"org.cleanroom.sha256": sha256(model), "org.cleanroom.model_id": "m-1"},
        )
    )
    return Chain(snapshot, model, archive)


def output_assertions(job_id: str) -> list[dict]:
    return [
        {
            "label": "org.cleanroom.lineage",
            "data": {"snapshot_id": "s-1", "merkle_root": MERKLE_ROOT, "model_id": "m-1", "job_id": job_id},
        },
        training_mining_assertion("notAllowed"),
        soft_binding_assertion(
            alg="org.cleanroom.watermark.rivagan.1", value="AAECAwQFBgc=", name="invisible watermark: output id"
        ),
        soft_binding_assertion(alg="org.cleanroom.fingerprint.phash.1", value="c3a5f00f0ff0a5c3"),
    ]


def sign_output(archive: bytes, job_id: str = "job-1") -> bytes:
    return sign_image(
        image=images.png_bytes(),
        mime_type="image/png",
        title="output.png",
        assertions=output_assertions(job_id),
        ingredients=[Ingredient(title="model m-1", mime_type=CONTAINER_MIME_TYPE, archive=archive)],
    )
