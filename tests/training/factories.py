"""Builders for training tests, all through the services, so the audit log stays valid: base
models registered and approved by the reviewers, runs requested (queued, no worker needed) or
requested and executed in-process with the service the `gpu` worker calls. No
DjangoModelFactory here: every training row is a governance write."""

from __future__ import annotations

from pathlib import Path

from training.models import BaseModel, ModelArtifact, TrainingRun
from training.services import (
    base_model_approve,
    base_model_register,
    training_execute,
    training_request,
)


def registered_base_model(directory: Path, ml_engineer, *, name: str = "tiny-sd") -> BaseModel:
    """A base model registered from `directory`, waiting for its two reviewers."""
    return base_model_register(directory=directory, name=name, licence="MIT", provenance="built in code", actor=ml_engineer)


def approved_base_model(directory: Path, ml_engineer, reviewer, second_reviewer, *, name: str = "tiny-sd") -> BaseModel:
    base_model = registered_base_model(directory, ml_engineer, name=name)
    base_model_approve(base_model_id=base_model.pk, reviewer=reviewer)
    base_model_approve(base_model_id=base_model.pk, reviewer=second_reviewer)
    return BaseModel.objects.get(pk=base_model.pk)


def requested_run(snapshot, base_model, ml_engineer, *, steps: int = 2, seed: int = 7) -> TrainingRun:
    """A queued run: its task goes to the broker only on commit, which a test never reaches."""
    return training_request(snapshot_id=snapshot.pk, base_model_id=base_model.pk, steps=steps, seed=seed, actor=ml_engineer)


def trained_model(snapshot, base_model, ml_engineer, *, steps: int = 2, seed: int = 7) -> ModelArtifact:
    """A run requested and executed in-process (needs a signing identity: the `pki` fixture)."""
    run = requested_run(snapshot, base_model, ml_engineer, steps=steps, seed=seed)
    finished = training_execute(run_id=run.pk, task_id=run.task_id)
    assert finished.status == "succeeded", (finished.error_code, finished.error)
    return ModelArtifact.objects.select_related("snapshot", "base_model").get(training_run=finished)
