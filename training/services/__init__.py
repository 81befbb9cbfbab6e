"""Training's writes and rules. Public names are re-exported here: callers import
`training.services`, never the modules inside (which may move)."""

from training.services.base_models import (
    base_model_approve,
    base_model_check_files,
    base_model_register,
    base_model_reject,
    base_model_revoke,
    base_model_transition,
)
from training.services.execution import training_execute
from training.services.requests import training_cancel, training_request, training_run_transition
from training.services.rules import check_trainable, model_usable, snapshot_blob_problems

__all__ = [
    "base_model_approve",
    "base_model_check_files",
    "base_model_register",
    "base_model_reject",
    "base_model_revoke",
    "base_model_transition",
    "check_trainable",
    "model_usable",
    "snapshot_blob_problems",
    "training_cancel",
    "training_execute",
    "training_request",
    "training_run_transition",
]
