"""The `gpu` queue's training task: a thin adapter (an id in, a service call). Unknown keyword
arguments are accepted and logged so a rolling deploy never breaks messages already queued."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from training import services

logger = logging.getLogger(__name__)

# Training outlives the default task limits. The hard limit stays below the broker's visibility
# timeout (2 h on Redis), so a message is never handed to a second worker while the first trains.
SOFT_TIME_LIMIT = settings.CLEANROOM_TRAINING["SOFT_TIME_LIMIT"]
TIME_LIMIT = settings.CLEANROOM_TRAINING["TIME_LIMIT"]


@shared_task(bind=True, name="training.train", acks_late=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def train(self, run_id: str, resent: bool = False, **unknown) -> str:
    if unknown:
        logger.warning("training.train ignores unknown arguments %s", sorted(unknown))
    if resent:  # sent again by the reconciler (training.services.reconcile)
        from training.services.reconcile import training_execute_resent

        return training_execute_resent(run_id=run_id, task_id=self.request.id or "").status
    return services.training_execute(run_id=run_id, task_id=self.request.id or "").status
