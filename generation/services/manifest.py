"""The C2PA manifest signed into every released output.

- `c2pa.actions.v2` with `c2pa.created`, digitalSourceType `trainedAlgorithmicMedia` (the
  signing helper sets it as the builder's intent);
- the model as an `inputTo` ingredient, from its ingredient archive, so the model's manifest,
  and inside it the snapshot's and the base model's, are nested in the image;
- `org.cleanroom.lineage`: the ids and digests a verifier cross-checks against the database;
- `cawg.training-mining`: every use `notAllowed` (an output must not be trained on; our own
  ingest refuses it for that reason);
- `c2pa.soft-binding`: the watermark and the fingerprint (generation/services/bindings.py).

PNG, and no thumbnail: the image is its own preview, and the SDK's thumbnail would add
~0.5 MB and tens of milliseconds per 1024² image for pixels the file already holds.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from core.exceptions import ApplicationError
from core.storage import blob_open
from generation.models import GenerationJob, Output
from generation.services.bindings import soft_binding_assertions
from provenance.c2pa.lineage import LINEAGE_LABEL, OutputLineage
from provenance.c2pa.manifests import CONTAINER_MIME_TYPE, Ingredient, read_manifest, sign_image
from training.models import ModelArtifact

OUTPUT_MIME_TYPE = "image/png"
TRAINING_MINING_LABEL = "cawg.training-mining"
TRAINING_MINING_ENTRIES = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference", "cawg.data_mining")


def lineage(*, job: GenerationJob, output: Output, artifact: ModelArtifact) -> dict:
    snapshot, base_model = artifact.snapshot, artifact.base_model
    return OutputLineage(
        output_id=str(output.pk),
        watermark_id=output.watermark_id if output.watermark_embedded else None,
        job_id=str(job.pk),
        kind=str(job.kind),
        model_id=str(artifact.pk),
        model_sha256=artifact.sha256,
        model_container_sha256=artifact.container_sha256,
        base_model_id=str(base_model.pk),
        base_model_name=base_model.name,
        base_model_sha256=base_model.sha256,
        snapshot_id=str(snapshot.pk),
        merkle_root=snapshot.merkle_root,
    ).to_json()


def output_assertions(*, job: GenerationJob, output: Output, artifact: ModelArtifact) -> list[dict]:
    return [
        {"label": LINEAGE_LABEL, "data": lineage(job=job, output=output, artifact=artifact)},
        {
            "label": TRAINING_MINING_LABEL,
            "data": {"entries": {entry: {"use": "notAllowed"} for entry in TRAINING_MINING_ENTRIES}},
        },
        *soft_binding_assertions(
            output_id=str(output.pk), watermark_id=output.watermark_id if output.watermark_embedded else None
        ),
    ]


def model_ingredient(artifact: ModelArtifact) -> Ingredient:
    return Ingredient(
        title=f"model {artifact.pk}", mime_type=CONTAINER_MIME_TYPE, archive=_archive(artifact.ingredient_archive_sha256)
    )


@lru_cache(maxsize=32)
def _archive(sha256: str) -> bytes:
    # Blobs are content-addressed, so the bytes behind a digest never change: read each once.
    with blob_open(sha256) as handle:
        archive = handle.read()
    if hashlib.sha256(archive).hexdigest() != sha256:
        raise ApplicationError(f"the model's ingredient archive {sha256} does not match its digest", code="model_archive_changed")
    return archive


def output_sign(*, png: bytes, job: GenerationJob, output: Output, artifact: ModelArtifact) -> tuple[bytes, str]:
    """The signed PNG and its manifest's label. The signature is read back before release: an
    output is only released with a manifest that validates as Trusted against our anchors."""
    signed = sign_image(
        image=png,
        mime_type=OUTPUT_MIME_TYPE,
        title=f"output {output.pk}",
        assertions=output_assertions(job=job, output=output, artifact=artifact),
        ingredients=[model_ingredient(artifact)],
        digital_source_type="trainedAlgorithmicMedia",
        thumbnail=False,
    )
    reading = read_manifest(signed, OUTPUT_MIME_TYPE)
    if not reading.trusted:
        raise RuntimeError(
            f"the signed output reads {reading.state or 'without a manifest'} ({', '.join(reading.errors) or reading.problem}), "
            "not Trusted: check the signer and the trust anchors"
        )
    return signed, reading.active_label or ""
