"""Thin adapters: ids in, a service call, nothing else. Unknown keyword arguments are accepted
and logged so that a rolling deploy never breaks messages already queued.

`generation.*` tasks are routed to the `gpu` queue (settings). Late acknowledgement: where the
broker hands back the message of a worker that died mid-job (see CELERY_TASK_ACKS_LATE in the
settings), the claim finds the job running under the same task id and fails it as lost; where
none comes back (the embedded folder broker), the job's heartbeat stops and the reconciler fails
it (core.heartbeat). The time limits are the global ones (CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT,
10 and 11 minutes by default): the soft one ends a stuck job as failed, the hard one kills it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="generation.run_job", acks_late=True)
def run_job(self, job_id: str, **unknown) -> str:
    from generation.services.execution import job_run

    if unknown:
        logger.warning("run_job ignores unknown arguments %s", sorted(unknown))
    return job_run(job_id=job_id, task_id=self.request.id or "")


@shared_task(
    bind=True,
    name="generation.run_batch",
    acks_late=True,
    soft_time_limit=settings.CLEANROOM_GENERATION_BATCH_SOFT_TIME_LIMIT,
    time_limit=settings.CLEANROOM_GENERATION_BATCH_TIME_LIMIT,
)
def run_batch(self, batch_id: str, **unknown) -> dict[str, str]:
    """A batch's jobs in order, generation of one overlapping the release of the one before
    (generation/services/pipeline.py); on the `gpu` queue like run_job."""
    from generation.services.pipeline import batch_run

    if unknown:
        logger.warning("run_batch ignores unknown arguments %s", sorted(unknown))
    return batch_run(batch_id=batch_id, task_id=self.request.id or "")


@shared_task(bind=True, name="generation.verify", acks_late=True)
def verify(self, verification_id: str, **unknown) -> str:
    """A stripped copy's soft bindings (watermark, fingerprint): CPU work, on the `audit` queue."""
    from generation.services.verification import verification_run

    if unknown:
        logger.warning("verify ignores unknown arguments %s", sorted(unknown))
    return verification_run(verification_id=verification_id, task_id=self.request.id or "")


@shared_task(name="generation.sweep_verify_uploads")
def sweep_verify_uploads(**unknown) -> dict | None:
    """Beat: the verify spool swept of uploads no verification needs (see verify_uploads_sweep);
    on the `audit` queue, whose workers share the spool with the web process."""
    from generation.services.verification_spool import verify_uploads_sweep

    if unknown:
        logger.warning("generation.sweep_verify_uploads ignores unknown arguments %s", sorted(unknown))
    return verify_uploads_sweep()


@shared_task(name="generation.verification_report", acks_late=True)
def verification_report(verification_id: str, **unknown) -> str:
    """A verification's signed report: on the `default` queue, whose workers hold the signing
    key (the web process never signs)."""
    from generation.services.verification_results import verification_report_sign

    if unknown:
        logger.warning("generation.verification_report ignores unknown arguments %s", sorted(unknown))
    return verification_report_sign(verification_id=verification_id)
