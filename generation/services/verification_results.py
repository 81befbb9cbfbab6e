"""What the public verify page keeps of a verification: its result for 24 hours, and a signed
report of it. Never the image: the verification row holds the upload's digest and the verdict.

- **The permalink** (`/verify/<id>/`) shows the result for `VERIFICATION_RESULT_TTL` after the
  request; later the result has expired (`verification_result_get` refuses it, 410 `expired`),
  its report too.
- **The signed report**: a C2PA-signed ZIP holding `verification.json` (the verdict, the
  verification id, the image's sha256, when it was asked and answered, and the SHA-256 of the
  platform's trust anchors), the same kind of container as a snapshot's export, so the same
  readers check it. The web process never signs (issue 15: it will not read the signing key):
  `verification_report_request` records the request and queues `generation.verification_report`
  on the `default` queue, whose workers sign the exports too; `verification_report_sign` is that
  worker's side. A request with no outcome after `REPORT_STALE_AFTER` (a lost worker or
  message) may be made again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, NotFound
from core.storage import blob_exists, blob_open, blob_put_bytes
from generation.models import Verification, VerificationStatus

logger = logging.getLogger(__name__)

VERIFICATION_RESULT_TTL = timedelta(hours=24)
REPORT_STALE_AFTER = timedelta(minutes=10)
REPORT_DOCUMENT = "verification.json"
REPORT_ASSERTION = "org.cleanroom.verification_report"
REPORT_FORMAT = "cleanroom.verification_report/1"


class ReportState:
    NONE = "none"  # never asked for, or asked for long ago with no outcome (stale)
    SIGNING = "signing"
    READY = "ready"
    FAILED = "failed"


def verification_expires_at(verification: Verification) -> datetime:
    return verification.created_at + VERIFICATION_RESULT_TTL


def verification_expired(verification: Verification, *, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= verification_expires_at(verification)


def verification_result_get(*, verification_id) -> Verification:
    """The verification whose result the permalink shows: 404 `unknown_verification` for no such
    id, 410 `expired` once VERIFICATION_RESULT_TTL has passed, and 410 `outdated` for a verdict
    stored by a release before the verdict said its word (never guessed again here: the word's
    rule lives in generation.services.verdicts alone)."""
    try:
        verification = Verification.objects.get(pk=verification_id)
    except (Verification.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"no verification with id {verification_id}", code="unknown_verification") from None
    if verification_expired(verification):
        raise ApplicationError(
            f"the result of verification {verification.pk} has expired: results are kept for "
            f"{int(VERIFICATION_RESULT_TTL.total_seconds() // 3600)} hours",
            code="expired",
            status=410,
        )
    if verification.status == VerificationStatus.DONE and "verdict" not in (verification.verdict or {}):
        raise ApplicationError(
            f"verification {verification.pk} was answered by an earlier version of Cleanroom, whose result "
            "this page cannot show: verify the image again",
            code="outdated",
            status=410,
        )
    return verification


def verification_report_state(verification: Verification, *, now: datetime | None = None) -> str:
    if verification.report_sha256:
        return ReportState.READY
    if verification.report_error:
        return ReportState.FAILED
    requested = verification.report_requested_at
    if requested is not None and (now or timezone.now()) - requested < REPORT_STALE_AFTER:
        return ReportState.SIGNING
    return ReportState.NONE


def verification_report_request(*, verification_id) -> Verification:
    """Ask a worker to sign the report of a finished verification, once: a report being signed or
    already signed is not asked for again. Refuses a verification still waiting (409
    `not_finished`), one that failed (409 `no_verdict`) and an expired one (410 `expired`)."""
    verification = verification_result_get(verification_id=verification_id)
    with transaction.atomic():
        verification = Verification.objects.select_for_update().get(pk=verification.pk)
        if verification.status in (VerificationStatus.QUEUED, VerificationStatus.RUNNING):
            raise ApplicationError("the verification has not finished yet", code="not_finished", status=409)
        if verification.status == VerificationStatus.FAILED or not verification.verdict:
            raise ApplicationError(
                "the verification ended without a verdict: there is nothing to report", code="no_verdict", status=409
            )
        if verification_report_state(verification) in (ReportState.SIGNING, ReportState.READY):
            return verification
        verification.report_requested_at = timezone.now()
        verification.report_error = ""
        verification.save(update_fields=["report_requested_at", "report_error", "updated_at"])
        pk = str(verification.pk)
        transaction.on_commit(lambda: _enqueue(pk))
    return verification


def _enqueue(verification_id: str) -> None:
    from generation.tasks import verification_report

    verification_report.delay(verification_id)


def verification_report_document(verification: Verification, *, trust_anchors_pem: str, signed_at: datetime) -> dict:
    """What `verification.json` says. The verdict is the service's own dict, unchanged; the image
    is named by its digest alone."""
    verdict = verification.verdict or {}
    return {
        "format": REPORT_FORMAT,
        "verification_id": str(verification.pk),
        "image_sha256": verification.sha256,
        "verdict": verdict.get("verdict"),
        "summary": verdict.get("summary"),
        "requested_at": verification.created_at.isoformat(),
        "verified_at": verification.finished_at.isoformat() if verification.finished_at else None,
        "signed_at": signed_at.isoformat(),
        "platform": {"trust_anchors_sha256": hashlib.sha256(trust_anchors_pem.encode("ascii")).hexdigest()},
        "result": verdict,
    }


def verification_report_sign(*, verification_id) -> str:
    """The worker's side: sign the report of a verification whose report was asked for, once,
    and store it as a blob named on the row. Returns the report's state."""
    from provenance.c2pa.manifests import sign_container
    from provenance.c2pa.signer import trust_anchors_pem

    verification = Verification.objects.filter(pk=verification_id).first()
    if verification is None:
        return "missing"
    if verification.report_sha256:
        return ReportState.READY
    try:
        if verification_expired(verification):
            raise ApplicationError("the verification's result has expired", code="expired", status=410)
        signed_at = timezone.now()
        document = verification_report_document(verification, trust_anchors_pem=trust_anchors_pem(), signed_at=signed_at)
        document_bytes = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
        container = sign_container(
            files={REPORT_DOCUMENT: document_bytes},
            title=f"Cleanroom verification report {verification.pk}",
            assertions=[
                {
                    "label": REPORT_ASSERTION,
                    "data": {
                        "verification_id": str(verification.pk),
                        "image_sha256": verification.sha256,
                        "verdict": document["verdict"],
                        "document_sha256": hashlib.sha256(document_bytes).hexdigest(),
                    },
                }
            ],
        )
    except (ApplicationError, ImproperlyConfigured) as error:
        message = error.message if isinstance(error, ApplicationError) else f"misconfigured: {error}"
        logger.warning("verification report %s not signed: %s", verification.pk, message)
        Verification.objects.filter(pk=verification.pk, report_sha256="").update(report_error=message, updated_at=timezone.now())
        return ReportState.FAILED
    sha256 = blob_put_bytes(container)
    # Two workers signing the same request both store a valid report; the first one named stays.
    Verification.objects.filter(pk=verification.pk, report_sha256="").update(
        report_sha256=sha256, report_error="", updated_at=timezone.now()
    )
    return ReportState.READY


def verification_report_bytes(*, verification_id) -> bytes:
    """The signed report of an unexpired verification: 404 `no_report` until it is signed."""
    verification = verification_result_get(verification_id=verification_id)
    if not verification.report_sha256 or not blob_exists(verification.report_sha256):
        raise NotFound("this verification's signed report has not been prepared", code="no_report")
    with blob_open(verification.report_sha256) as handle:
        return handle.read()
