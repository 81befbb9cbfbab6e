from __future__ import annotations

import sys
import time

from tqdm import tqdm

from core.exceptions import ApplicationError
from core.management.base import CheckFailed, JsonCommand
from core.users import user_get
from training.api.serializers import TrainingRunSerializer
from training.models import RUN_FINAL, RunStatus
from training.selectors import training_run_get
from training.services import training_cancel, training_request


class Command(JsonCommand):
    help = (
        "Train a LoRA on an approved snapshot: `train --snapshot ID --base BASE_MODEL_ID [--steps N] [--seed N] [--no-wait]` "
        "(waits for the `gpu` worker by default); `train --show RUN_ID`; `train --cancel RUN_ID`."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--snapshot", metavar="ID", help="the approved snapshot to train on")
        mode.add_argument("--show", metavar="RUN_ID", help="print a run's status")
        mode.add_argument("--cancel", metavar="RUN_ID", help="cancel a queued or running run")
        parser.add_argument("--base", metavar="BASE_MODEL_ID", help="the approved base model (with --snapshot)")
        parser.add_argument("--steps", type=int, help="optimiser steps (default CLEANROOM_TRAINING_DEFAULT_STEPS)")
        parser.add_argument("--seed", type=int, help="random seed (default: a random one, recorded)")
        parser.add_argument("--rank", type=int, help="LoRA rank (default 4)")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", help="the requesting user (default: the operator)")
        parser.add_argument("--no-wait", action="store_true", help="return once the run is queued")
        parser.add_argument("--timeout", type=float, default=24 * 3600.0, help="seconds to wait at most")

    def run(self, **options):
        actor = user_get(username=options["as_user"]) if options.get("as_user") else None
        if options["show"]:
            return TrainingRunSerializer(training_run_get(run_id=options["show"])).data
        if options["cancel"]:
            return TrainingRunSerializer(training_cancel(run_id=options["cancel"], actor=actor)).data
        if not options["base"]:
            raise ApplicationError("--snapshot needs --base BASE_MODEL_ID", code="base_model_required")
        run = training_request(
            snapshot_id=options["snapshot"],
            base_model_id=options["base"],
            steps=options["steps"],
            seed=options["seed"],
            options={"rank": options["rank"]} if options["rank"] is not None else None,
            actor=actor,
        )
        if not options["no_wait"]:
            run = self._wait(run, options["timeout"])
        result = TrainingRunSerializer(run).data
        if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            code = run.error_code or "training_cancelled"
            raise CheckFailed({**result, "code": code}, f"training run {run.pk} {run.status}: {run.error}")
        return result

    def _wait(self, run, timeout: float):
        deadline = time.monotonic() + timeout
        with tqdm(total=run.steps, unit="step", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            while True:
                run.refresh_from_db()
                bar.n = round(run.progress * run.steps)
                bar.set_postfix_str(
                    f"{run.status}" + (f" loss {run.loss_curve[-1]:.4f}" if run.loss_curve else ""), refresh=False
                )
                bar.refresh()
                if run.status in RUN_FINAL:
                    return run
                if time.monotonic() > deadline:
                    raise ApplicationError(
                        f"training run {run.pk} is still {run.status} after {timeout:.0f} s: is a `gpu` worker running?",
                        code="training_timeout",
                        extra={"training_run_id": str(run.pk), "status": run.status},
                    )
                time.sleep(0.25)
