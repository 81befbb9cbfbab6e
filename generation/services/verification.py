"""`verify`: is this image ours, and which approved, consented data made it?

Three ways to find an output, strongest first:

1. **manifest**: the file's own C2PA manifest, validated against the organisation's trust
   anchors (`Trusted`, not merely `Valid`), whose lineage assertion names one of our outputs;
2. **watermark**: the manifest was stripped (a re-save, a re-encode, a resize, a crop), but the
   invisible watermark still decodes to an output's watermark id;
3. **fingerprint**: the output registry's perceptual fingerprint matches, confirmed by a
   geometric verification of keypoints (never by a hash distance alone).

A copy found by a soft binding is checked through the output's stored, signed file: `valid`
and `trusted` then describe that stored manifest, and `manifest` says `stored`, not `embedded`.

Whatever found it, the chain output → model → base model → snapshot is read from the manifest
and cross-checked against the database: every id and digest must agree, and a snapshot tainted
since (a consent revoked), or a snapshot or base model no longer approved, is an error in the
chain. An image that is not ours is reported as unknown (`traced_by` None), never matched to a
random output.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from core.exceptions import ApplicationError
from core.heartbeat import heartbeat
from core.roles import Actor, actor_user
from core.state import StateMachine
from core.storage import blob_exists, blob_open
from generation.models import VERIFICATION_TRANSITIONS, Output, Verification, VerificationStatus
from generation.services.verification_spool import (
    FINAL,
    UPLOAD_GONE,
    verify_upload_discard,
    verify_upload_keep,
    verify_upload_read,
)
from provenance.c2pa.lineage import (
    DATASET_TYPE,
    LINEAGE_LABEL,
    MODEL_TYPE,
    BaseModelIngredient,
    LineageMalformed,
    ModelIngredient,
    OutputLineage,
    SnapshotIngredient,
)
from provenance.c2pa.manifests import chain, read_manifest
from provenance.ingest.refusals import plain_error
from provenance.selectors import snapshot_refusal
from training.selectors import base_model_refusal

MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_VERIFY_PIXELS = 50_000_000
R = TypeVar("R", ModelIngredient, SnapshotIngredient, BaseModelIngredient)


@dataclass
class Verdict:
    valid: bool = False
    trusted: bool = False
    traced_by: str | None = None
    chain: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sha256: str = ""
    manifest: str | None = None  # embedded | stored | None
    output_id: str | None = None
    bindings: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.traced_by is not None and self.trusted and not self.errors

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "trusted": self.trusted,
            "traced_by": self.traced_by,
            "chain": self.chain,
            "errors": self.errors,
            "sha256": self.sha256,
            "manifest": self.manifest,
            "output_id": self.output_id,
            "bindings": self.bindings,
        }


def verify_image(data: bytes) -> Verdict:
    """Verify one image file's bytes (see the module's docstring)."""
    verdict, image, settled = _by_embedded_manifest(data)
    if settled:
        return verdict
    return _by_soft_bindings(verdict, image)


def verify_by_manifest(data: bytes) -> Verdict | None:
    """The verdict when the file's own manifest names one of our outputs, else None: the part
    of `verify_image` that needs no detector, so the web process can answer it at once."""
    verdict, _, settled = _by_embedded_manifest(data)
    return verdict if settled else None


def _by_embedded_manifest(data: bytes) -> tuple[Verdict, Image.Image, bool]:
    mime_type, image = _open_image(data)
    verdict = Verdict(sha256=hashlib.sha256(data).hexdigest())
    reading = read_manifest(data, mime_type)
    if reading.found:
        output = _output_named_by(reading)
        if output is not None:
            _judge(verdict, reading, output, traced_by="manifest", manifest="embedded")
            return verdict, image, True
        # A manifest, but not one of ours (or one too broken to name an output): say why, then
        # look for our soft bindings in the pixels.
        verdict.errors.extend(reading.errors or ([f"manifest.unreadable: {reading.problem}"] if reading.problem else []))
        verdict.errors.append("manifest.not_ours: the manifest names no output of this platform")
    return verdict, image, False


def _by_soft_bindings(verdict: Verdict, image: Image.Image) -> Verdict:
    output, binding = _trace_soft_bindings(image, verdict)
    if output is None or binding is None:  # both or neither
        verdict.errors.append("unknown: no manifest, watermark or fingerprint of this platform was found")
        return verdict
    stored = blob_open(output.sha256).read()
    stored_reading = read_manifest(stored, output.mime_type)
    verdict.errors = [error for error in verdict.errors if not error.startswith("manifest.")]
    _judge(verdict, stored_reading, output, traced_by=binding, manifest="stored")
    return verdict


# --- the API's requests: answered at once, or queued for a worker --------------------------------


def verification_request(*, data: bytes, actor: Actor = None) -> Verification:
    """Answer from the embedded manifest when it settles the question, else queue the soft-binding
    search (task `generation.verify`, on the CPU `audit` queue) and return the queued request.
    A queued upload waits in the verify spool until its verdict is stored (503 `verify_busy`
    when the spool is full); a settled one is kept nowhere."""
    if len(data) > settings.CLEANROOM_VERIFY_MAX_BYTES:
        raise ApplicationError(
            f"the file is larger than {settings.CLEANROOM_VERIFY_MAX_BYTES} bytes", code="too_large", status=413
        )
    requester = actor_user(actor)
    verdict = verify_by_manifest(data)
    if verdict is not None:
        # Settled here: the upload itself need not be kept, its digest is in the verdict.
        return Verification.objects.create(
            sha256=verdict.sha256, requested_by=requester, status=VerificationStatus.DONE, verdict=verdict.as_dict(),
            finished_at=timezone.now(),
        )  # fmt: skip
    verification_id = uuid.uuid4()
    # Written before the row is committed, so a worker (or the sweeper) that sees the row finds
    # the file; a request that fails to commit leaves a file the sweeper removes.
    verify_upload_keep(verification_id=verification_id, data=data)
    try:
        with transaction.atomic():
            verification = Verification.objects.create(
                id=verification_id, sha256=hashlib.sha256(data).hexdigest(), requested_by=requester,
                task_id=str(uuid.uuid4()),
            )  # fmt: skip
            transaction.on_commit(lambda: _enqueue(verification))
    except BaseException:
        verify_upload_discard(verification_id=verification_id)
        raise
    return verification


def _enqueue(verification: Verification) -> None:
    from generation.tasks import verify as verify_task

    verify_task.apply_async(args=[str(verification.pk)], task_id=verification.task_id)


# A verification is a question anyone may ask, not a governance write: its moves are not audited.
VERIFICATION_STATES = StateMachine(
    Verification, VERIFICATION_TRANSITIONS, None, "verification", reason_field=None, changed_at_field=None
)


def verification_transition(*, verification_id, to: str, **changes: Any) -> Verification:
    """Move a verification along VERIFICATION_TRANSITIONS (row locked), setting `changes`; a
    verification that ends records when."""
    if to in (VerificationStatus.DONE, VerificationStatus.FAILED):
        changes.setdefault("finished_at", timezone.now())
    return VERIFICATION_STATES.transition(verification_id, to=to, **changes)


def verification_run(*, verification_id, task_id: str = "") -> str:
    """The worker's side: claim the queued request once, verify, store the verdict."""
    # The claim writes `updated_at`: the reconciler counts a running verification's time from it.
    claimed = VERIFICATION_STATES.claim(
        verification_id,
        task_id=task_id,
        claimable=VerificationStatus.QUEUED,
        running=VerificationStatus.RUNNING,
        lost=VerificationStatus.FAILED,
        lost_reason="the worker running this verification was lost",
        lost_changes={"error": "worker_lost: the worker running this verification was lost", "finished_at": timezone.now()},
    )
    if claimed is None:
        # Another task's to run (it may not have read the upload yet), or ended: a claim that
        # found its own worker lost has just failed it, so nothing will read the upload again.
        if Verification.objects.filter(pk=verification_id, status__in=FINAL).exists():
            verify_upload_discard(verification_id=verification_id)
        return "skipped"
    try:
        with heartbeat(Verification, claimed.pk, running=VerificationStatus.RUNNING, task_id=task_id):
            return _verify_claimed(claimed)
    finally:
        # Whatever happened, the claim is once-only: no task will read this upload again. A
        # worker killed before this line leaves it for the sweeper (verify_uploads_sweep).
        verify_upload_discard(verification_id=verification_id)


def verification_upload(verification: Verification) -> bytes | None:
    """The bytes a queued verification asked about: its spool file; for one queued by the
    previous release, the blob its upload was stored as (read, never deleted: the same bytes may
    be a governed asset's). None when neither is there any more."""
    data = verify_upload_read(verification_id=verification.pk)
    if data is None and blob_exists(verification.sha256):
        with blob_open(verification.sha256) as handle:
            data = handle.read()
    return data


def _verify_claimed(verification: Verification) -> str:
    verdict: Verdict | None = None
    try:
        data = verification_upload(verification)
        if data is None:
            failure = UPLOAD_GONE
        else:
            verdict, failure = verify_image(data), ""
    except ApplicationError as error:
        failure = error.message
    except ImproperlyConfigured as error:
        # The platform's fault, not the image's: the request ends with the reason rather than
        # staying `running` until the reconciler's deadline.
        failure = f"misconfigured: {error}"
    try:
        if verdict is None:
            verification_transition(verification_id=verification.pk, to=VerificationStatus.FAILED, error=failure)
        else:
            verification_transition(verification_id=verification.pk, to=VerificationStatus.DONE, verdict=verdict.as_dict())
    except ApplicationError:  # failed as lost by the reconciler meanwhile: its answer stands
        return Verification.objects.get(pk=verification.pk).status
    return VerificationStatus.FAILED if verdict is None else VerificationStatus.DONE


def _open_image(data: bytes) -> tuple[str, Image.Image]:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_VERIFY_PIXELS:
            raise ApplicationError("the image is too large to verify", code="too_large", status=413)
        image.load()
    except ApplicationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ApplicationError(f"not a readable image: {plain_error(error)}", code="invalid_image") from None
    mime_type = MIME_TYPES.get(image.format or "")
    if mime_type is None:
        # Still ours to trace (a screenshot saved as BMP, say), just never carrying a manifest.
        mime_type = Image.MIME.get(image.format or "", "application/octet-stream")
    return mime_type, image.convert("RGB")


# --- finding the output -------------------------------------------------------------------------


def _lineage_data(reading) -> Any:
    """What the active manifest holds under the lineage label (anything, in a hostile manifest)."""
    for assertion in (reading.active_manifest or {}).get("assertions") or []:
        if assertion.get("label") == LINEAGE_LABEL:
            return assertion.get("data")
    return None


def _lineage(reading) -> OutputLineage:
    data = _lineage_data(reading)
    if data is None:
        raise LineageMalformed(f"the manifest has no {LINEAGE_LABEL} assertion")
    return OutputLineage.from_json(data)


def _output_named_by(reading) -> Output | None:
    # The output id alone is enough to find the output: the chain check then reports whatever
    # else is wrong with the lineage, rather than the image passing as a stripped copy.
    output_id = OutputLineage.output_id_in(_lineage_data(reading))
    if output_id is None:
        return None
    try:
        return Output.objects.select_related("job__model__snapshot", "job__model__base_model").get(pk=output_id)
    except (Output.DoesNotExist, ValidationError, ValueError, TypeError):  # a malformed id in a hostile manifest
        return None


def _trace_soft_bindings(image: Image.Image, verdict: Verdict) -> tuple[Output | None, str | None]:
    """Try both bindings; the watermark (which carries the id) wins when both answer."""
    from generation.output_index import output_index_search
    from generation.watermark import detect_watermark

    by_watermark = None
    hit = detect_watermark(image)
    if hit is not None:
        by_watermark = (
            Output.objects.select_related("job__model__snapshot", "job__model__base_model")
            .filter(watermark_id=hit.payload, released=True, watermark_embedded=True)
            .first()
        )
        verdict.bindings["watermark"] = {
            "watermark_id": hit.payload,
            "backend": hit.backend,
            "corrected_bits": hit.corrected_bits,
            "output_id": str(by_watermark.pk) if by_watermark else None,
        }
    else:
        verdict.bindings["watermark"] = None

    by_fingerprint = None
    matches = output_index_search(image)
    if matches:
        output_id, match = matches[0]
        by_fingerprint = (
            Output.objects.select_related("job__model__snapshot", "job__model__base_model")
            .filter(pk=output_id, released=True)
            .first()
        )
        verdict.bindings["fingerprint"] = {"output_id": str(output_id), **_match_summary(match)}
    else:
        verdict.bindings["fingerprint"] = None

    if by_watermark and by_fingerprint and by_watermark.pk != by_fingerprint.pk:
        verdict.errors.append(
            f"soft_binding.disagreement: the watermark names output {by_watermark.pk}, the fingerprint {by_fingerprint.pk}"
        )
    if by_watermark is not None:
        return by_watermark, "watermark"
    if by_fingerprint is not None:
        return by_fingerprint, "fingerprint"
    return None, None


def _match_summary(match) -> dict:
    return {"inliers": match.inliers, "method": match.method, "transforms": list(match.transforms)}


# --- judging the chain --------------------------------------------------------------------------


def _judge(verdict: Verdict, reading, output: Output, *, traced_by: str, manifest: str) -> None:
    verdict.traced_by = traced_by
    verdict.manifest = manifest
    verdict.output_id = str(output.pk)
    verdict.valid = reading.state in ("Valid", "Trusted") and not reading.errors
    verdict.trusted = reading.trusted and verdict.valid
    verdict.errors.extend(reading.errors)
    if reading.state not in ("Valid", "Trusted") and not reading.errors:
        verdict.errors.append(f"manifest.{(reading.state or 'unreadable').lower()}: {reading.problem or 'not valid'}")
    elif reading.state == "Valid" and not reading.trusted:
        verdict.errors.append("signingCredential.untrusted: not signed by an identity the organisation's anchors vouch for")
    verdict.chain, chain_errors = _chain(reading, output)
    verdict.errors.extend(error for error in chain_errors if error not in verdict.errors)


def _metadata(node: dict | None, record: type[R], errors: list[str], missing: str) -> R | None:
    """The ingredient's metadata as `record`, or None with the reason in `errors`."""
    if node is None:
        errors.append(f"chain.missing: {missing}")
        return None
    try:
        return record.from_json(node.get("metadata") or {}, prefixed=True)
    except LineageMalformed as malformed:
        errors.append(f"chain.malformed: {malformed}")
        return None


def _chain(reading, output: Output) -> tuple[list[dict], list[str]]:
    nodes = chain(reading)
    errors: list[str] = []
    artifact = output.job.model
    snapshot, base_model = artifact.snapshot, artifact.base_model

    def expect(what: str, found: Any, wanted: Any) -> None:
        if found is None or str(found) != str(wanted):
            errors.append(f"chain.mismatch: {what} is {found!r} in the manifest, {wanted!r} in the platform's records")

    try:
        lineage = _lineage(reading)
    except LineageMalformed as malformed:
        errors.append(f"chain.malformed: {malformed}")
    else:
        expect("the output id", lineage.output_id, output.pk)
        expect("the generation job", lineage.job_id, output.job_id)
        expect("the model id", lineage.model_id, artifact.pk)
        expect("the model's sha256", lineage.model_sha256, artifact.sha256)
        expect("the model container's sha256", lineage.model_container_sha256, artifact.container_sha256)
        expect("the snapshot id", lineage.snapshot_id, snapshot.pk)
        expect("the snapshot's Merkle root", lineage.merkle_root, snapshot.merkle_root)
        expect("the base model id", lineage.base_model_id, base_model.pk)
        expect("the base model's sha256", lineage.base_model_sha256, base_model.sha256)

    model_node = next((n for n in nodes if n["depth"] == 1 and MODEL_TYPE in n["data_types"]), None)
    snapshot_node = next((n for n in nodes if n["depth"] == 2 and DATASET_TYPE in n["data_types"]), None)
    base_node = next((n for n in nodes if n["depth"] == 2 and MODEL_TYPE in n["data_types"]), None)
    model = _metadata(model_node, ModelIngredient, errors, "the manifest has no model ingredient")
    if model is not None:
        expect("the model ingredient's id", model.model_id, artifact.pk)
        expect("the model ingredient's sha256", model.lora_sha256, artifact.sha256)
        expect("the model container's sha256", model.container_sha256, artifact.container_sha256)
    snapshot_ingredient = _metadata(snapshot_node, SnapshotIngredient, errors, "the model's manifest has no snapshot ingredient")
    if snapshot_ingredient is not None:
        expect("the snapshot ingredient's id", snapshot_ingredient.snapshot_id, snapshot.pk)
        expect("the snapshot ingredient's Merkle root", snapshot_ingredient.merkle_root, snapshot.merkle_root)
        expect("the snapshot container's sha256", snapshot_ingredient.container_sha256, snapshot.container_sha256)
    base = _metadata(base_node, BaseModelIngredient, errors, "the model's manifest has no base model ingredient")
    if base is not None:
        expect("the base model ingredient's id", base.base_model_id, base_model.pk)
        expect("the base model ingredient's sha256", base.sha256, base_model.sha256)

    if not output.released:
        errors.append(f"output.not_released: output {output.pk} was never released")
    for refusal in (snapshot_refusal(snapshot), base_model_refusal(base_model)):
        if refusal is not None:
            errors.append(f"{refusal.code}: {refusal.message}")

    entries = [
        {"type": "output", "id": str(output.pk), "sha256": output.sha256, "job_id": str(output.job_id)},
        {"type": "model", "id": str(artifact.pk), "sha256": artifact.sha256},
        {
            "type": "base_model",
            "id": str(base_model.pk),
            "sha256": base_model.sha256,
            "name": base_model.name,
            "status": base_model.status,
        },
        {
            "type": "snapshot",
            "id": str(snapshot.pk),
            "merkle_root": snapshot.merkle_root,
            "sha256": snapshot.container_sha256,
            "status": snapshot.status,
        },
    ]
    return entries, errors
