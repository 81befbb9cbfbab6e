"""`verify`: is this image ours, and which approved, consented data made it?

Two questions are kept apart: `valid` is the manifest's integrity (its signatures and hashes
hold, its ingredients' included: c2pa-rs `Valid` or `Trusted`), `trusted` whether it is signed by
an identity the organisation's anchors vouch for. A foreign signer's intact manifest is valid and
untrusted; a tampered one is invalid, whoever signed it.

Three ways to find an output, strongest first:

1. **manifest**: the file's own C2PA manifest names one of our outputs in its lineage assertion,
   and is signed by us (`Trusted`) or broken (then the verdict is `Invalid`). A foreign signer's
   claim to be ours proves nothing: such a file is traced by its pixels, like a stripped one;
2. **watermark**: the manifest was stripped or replaced (a re-save, a re-encode, a resize, a
   crop, a re-signing), but the invisible watermark still decodes to an output's watermark id;
3. **fingerprint**: the output registry's perceptual fingerprint matches, confirmed by a
   geometric verification of keypoints (never by a hash distance alone).

A copy found by a soft binding is checked through the output's stored, signed file, and
`manifest` says `stored`, not `embedded`; `valid`, `trusted` and `signer` describe the file's own
manifest when it carries one (a re-signed copy: the stranger is named), else the stored one.

Whatever found it, the chain output → model → base model → snapshot is read from the manifest
and cross-checked against the database (generation/services/verification_chain.py): every id
and digest must agree, and a snapshot tainted since (a consent revoked or expired), or a
snapshot or base model no longer approved, is an error in the chain. An image that is not ours
is reported as unknown (`traced_by` None), never matched to a random output. The verdict's word
and sentences come from generation/services/verdicts.py.
"""

from __future__ import annotations

import hashlib
import io
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

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
from generation.services.verdicts import (
    RECOVERED,
    VerdictFacts,
    chain_state,
    confidence,
    failure,
    summary,
    training_mining,
    verdict_word,
)
from generation.services.verification_chain import ChainCheck, chain_check, lineage_data
from generation.services.verification_spool import (
    FINAL,
    UPLOAD_GONE,
    verify_upload_discard,
    verify_upload_keep,
    verify_upload_read,
)
from provenance.c2pa.lineage import OutputLineage
from provenance.c2pa.manifests import ManifestReading, chain, read_manifest, signature_of, validation_failures
from provenance.ingest.refusals import plain_error

MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# What verify opens: the formats a manifest can ride in, and plain rasters a stripped copy may
# have been saved as. Never a format Pillow hands to another program (EPS runs Ghostscript).
OPENABLE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
OWN_MANIFEST = "the image's own manifest"


@dataclass
class Verdict:
    """What `verify` answers. The CLI contract's keys (`valid`, `trusted`, `traced_by`, `chain`,
    `errors`) come first; `verdict` is the web contract's word (generation/services/verdicts.py
    holds the rule), with `summary`, `chain_state`, `confidence`, `signer`, `training_mining`,
    `taint` and `failures` explaining it.

    `valid`, `trusted` and `signer` describe the file's own manifest when it carries one, else
    the stored manifest of the output a soft binding traced it to."""

    valid: bool = False
    trusted: bool = False
    traced_by: str | None = None
    chain: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sha256: str = ""
    manifest: str | None = None  # embedded | stored | None
    output_id: str | None = None
    bindings: dict[str, Any] = field(default_factory=dict)
    verdict: str = "Unknown"
    summary: str = ""
    chain_state: str | None = None
    confidence: dict | None = None
    signer: dict | None = None
    training_mining: dict | None = None
    taint: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

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
            "verdict": self.verdict,
            "summary": self.summary,
            "chain_state": self.chain_state,
            "confidence": self.confidence,
            "signer": self.signer,
            "training_mining": self.training_mining,
            "taint": self.taint,
            "failures": self.failures,
        }


def verify_image(data: bytes) -> Verdict:
    """Verify one image file's bytes (see the module's docstring)."""
    verdict, image, reading, settled = _by_embedded_manifest(data)
    if settled:
        return verdict
    return _by_soft_bindings(verdict, image, reading)


def verify_by_manifest(data: bytes) -> Verdict | None:
    """The verdict when the file's own manifest names one of our outputs, else None: the part
    of `verify_image` that needs no detector, so the web process can answer it at once."""
    verdict, _, _, settled = _by_embedded_manifest(data)
    return verdict if settled else None


def _by_embedded_manifest(data: bytes) -> tuple[Verdict, Image.Image, ManifestReading, bool]:
    """Settled here when the file's manifest names one of our outputs and is either signed by
    us or broken: a foreign signer's claim to be ours proves nothing, so such a file, like one
    without a manifest, is left to the soft bindings."""
    mime_type, image = _open_image(data)
    verdict = Verdict(sha256=hashlib.sha256(data).hexdigest())
    reading = read_manifest(data, mime_type)
    if reading.found:
        output = _output_named_by(reading)
        if output is not None and (reading.trusted or not reading.intact):
            check = _judge(verdict, reading, output, traced_by="manifest", manifest="embedded")
            _describe(verdict, reading, check, stored=None)
            return verdict, image, reading, True
    return verdict, image, reading, False


def _by_soft_bindings(verdict: Verdict, image: Image.Image, reading: ManifestReading) -> Verdict:
    output, binding = _trace_soft_bindings(image, verdict)
    if output is None or binding is None:  # both or neither
        _describe_stranger(verdict, reading)
        return verdict
    stored = blob_open(output.sha256).read()
    stored_reading = read_manifest(stored, output.mime_type)
    check = _judge(verdict, stored_reading, output, traced_by=binding, manifest="stored")
    if reading.found:
        # A re-signed or damaged copy of ours: the verdict rests on our stored chain; the file's
        # own manifest is named, and answers `valid`, `trusted` and `signer`.
        verdict.valid, verdict.trusted = reading.intact, reading.trusted
        verdict.errors[:0] = _foreign_manifest_errors(reading, output, binding)
    _describe(verdict, reading, check, stored=stored_reading)
    return verdict


def _foreign_manifest_errors(reading: ManifestReading, output: Output, binding: str) -> list[str]:
    signer = (signature_of(reading) or {}).get("name") or "an unnamed signer"
    traced = f"the image was traced to output {output.pk} by its {binding}"
    if reading.intact:
        return [
            f"signingCredential.untrusted: the file's own manifest is signed by '{signer}', whom the "
            f"organisation's anchors do not vouch for; {traced}"
        ]
    codes = ", ".join(f.code for f in validation_failures(reading)) or reading.problem or "unreadable"
    return [f"manifest.invalid: the file's own manifest fails its checks ({codes}); {traced}"]


def _describe_stranger(verdict: Verdict, reading: ManifestReading) -> None:
    """No output of ours was found: Untrusted (a foreign, intact manifest), Invalid (a broken
    one, or one of ours that names no output) or Unknown (no manifest)."""
    if reading.found:
        verdict.valid, verdict.trusted = reading.intact, reading.trusted
        signer = signature_of(reading)
        if reading.intact and not reading.trusted:
            verdict.errors.append(
                f"signingCredential.untrusted: signed by '{(signer or {}).get('name')}', whom the organisation's "
                "anchors do not vouch for"
            )
        else:
            verdict.errors.extend(_reading_errors(reading))
        claimed = OutputLineage.output_id_in(lineage_data(reading))
        verdict.errors.append(
            f"manifest.not_ours: the manifest claims output {claimed}, but this platform did not sign it and its pixels "
            "carry no watermark or fingerprint of ours"
            if claimed and not reading.trusted
            else "manifest.not_ours: the manifest names no output of this platform"
        )
    else:
        verdict.errors.append("unknown: no manifest, watermark or fingerprint of this platform was found")
    _describe(verdict, reading, None, stored=None)
    if reading.found and reading.intact and reading.trusted:
        verdict.failures.append(failure(OWN_MANIFEST, "manifest.not_ours"))


def _reading_errors(reading: ManifestReading) -> list[str]:
    if reading.errors:
        return list(reading.errors)
    if reading.problem:
        return [f"manifest.unreadable: {reading.problem}"]
    return [f"manifest.{(reading.state or 'unreadable').lower()}: not valid"]


# --- the API's requests: answered at once, or queued for a worker --------------------------------


def verification_request(*, data: bytes, actor: Actor = None) -> Verification:
    """Answer from the embedded manifest when it settles the question, else queue the soft-binding
    search (task `generation.verify`, on the CPU `audit` queue) and return the queued request.
    A queued upload waits in the verify spool until its verdict is stored (503 `verify_busy`
    when the spool is full); a settled one is kept nowhere."""
    if len(data) > settings.CLEANROOM_VERIFY_MAX_BYTES:
        raise ApplicationError(
            # The API reads one byte past the limit, no more: "larger" is all it knows.
            f"verify accepts files up to {_size_in_words(settings.CLEANROOM_VERIFY_MAX_BYTES)}; this one is larger",
            code="too_large",
            status=413,
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
    """The image, refused with a plain reason when it is not one verify reads (`invalid_image`)
    or is larger than CLEANROOM_VERIFY_MAX_PIXELS (`too_large`, 413) before its pixels are
    decoded, so that a decompression bomb never unpacks."""
    if not data:
        raise ApplicationError("the file is empty: choose an image file (JPEG, PNG or WebP)", code="invalid_image")
    try:
        image = Image.open(io.BytesIO(data), formats=OPENABLE_FORMATS)
        _refuse_too_many_pixels(image.width, image.height)
        image.load()
    except ApplicationError:
        raise
    except Image.DecompressionBombError:
        _refuse_too_many_pixels(None, None)
        raise  # unreachable: the line above raises
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise ApplicationError(
            f"not an image verify can read (JPEG, PNG, WebP, GIF, BMP or TIFF): {plain_error(error)}", code="invalid_image"
        ) from None
    mime_type = MIME_TYPES.get(image.format or "")
    if mime_type is None:
        # Still ours to trace (a screenshot saved as BMP, say), just never carrying a manifest.
        mime_type = Image.MIME.get(image.format or "", "application/octet-stream")
    return mime_type, image.convert("RGB")


def _refuse_too_many_pixels(width: int | None, height: int | None) -> None:
    limit = settings.CLEANROOM_VERIFY_MAX_PIXELS
    if width is not None and height is not None and width * height <= limit:
        return
    side = math.isqrt(limit)
    allowed = f"{side} × {side} pixels" if side * side == limit else f"{limit:,} pixels"
    found = f"is {width} × {height} pixels" if width is not None else "has more pixels than that"
    raise ApplicationError(f"verify accepts images up to {allowed}; this one {found}", code="too_large", status=413)


def _size_in_words(size: int) -> str:
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


# --- finding the output -------------------------------------------------------------------------


def _output_named_by(reading) -> Output | None:
    # The output id alone is enough to find the output: the chain check then reports whatever
    # else is wrong with the lineage, rather than the image passing as a stripped copy.
    output_id = OutputLineage.output_id_in(lineage_data(reading))
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


def _judge(verdict: Verdict, reading: ManifestReading, output: Output, *, traced_by: str, manifest: str) -> ChainCheck:
    verdict.traced_by = traced_by
    verdict.manifest = manifest
    verdict.output_id = str(output.pk)
    verdict.valid = reading.intact
    verdict.trusted = reading.trusted and verdict.valid
    if not reading.intact:
        verdict.errors.extend(_reading_errors(reading))
    elif not reading.trusted:
        verdict.errors.append("signingCredential.untrusted: not signed by an identity the organisation's anchors vouch for")
    check = chain_check(reading, output)
    verdict.chain = check.entries
    verdict.errors.extend(error for error in check.errors if error not in verdict.errors)
    return check


def _describe(verdict: Verdict, own: ManifestReading, check: ChainCheck | None, *, stored: ManifestReading | None) -> None:
    """Put the facts in words. `own` is what the file itself carries (found or not), `stored`
    the stored manifest of the output a soft binding led to, `check` the chain's check against
    our records (None when no output of ours was found)."""
    judged = stored if stored is not None else own
    facts = VerdictFacts(
        has_manifest=own.found,
        intact=own.intact,
        ours=own.trusted,
        traced_by=verdict.traced_by,
        chain_sound=check is not None and judged.intact and judged.trusted and not check.mismatches,
        chain_tainted=check is not None and bool(check.refusals),
    )
    verdict.verdict = verdict_word(facts)
    verdict.chain_state = chain_state(verdict.verdict, facts)
    verdict.confidence = confidence(verdict.traced_by, verdict.bindings)
    verdict.signer = signature_of(own if own.found else judged)
    verdict.taint = check.taint if check is not None else []
    verdict.training_mining = training_mining(_assertions_of(judged if verdict.verdict == RECOVERED else own))
    failures = []
    if own.found:
        failures += [failure(f.where, f.code, f.explanation) for f in validation_failures(own)]
        if own.state is None:
            failures.append(failure(OWN_MANIFEST, "manifest.unreadable", own.problem or ""))
    if stored is not None:
        where = f"our stored record of output {verdict.output_id}"
        failures += [failure(f"{where}, {f.where}", f.code, f.explanation) for f in validation_failures(stored)]
    for error in check.mismatches if check is not None else []:
        code, _, explanation = error.partition(": ")
        failures.append(failure("our records", code, explanation))
    verdict.failures = failures
    verdict.summary = summary(
        verdict.verdict, state=verdict.chain_state, signer=(verdict.signer or {}).get("name"), binding=verdict.traced_by
    )


def _assertions_of(reading: ManifestReading) -> dict[str, Any]:
    nodes = chain(reading)
    return nodes[0]["assertions"] if nodes else {}
