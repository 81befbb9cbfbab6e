"""Loading diffusion pipelines for training and generation, with their digests checked.

The generation app loads a model with `load_model_pipeline(artifact, device_for(setting))`:

    from training.pipelines import device_for, load_model_pipeline
    pipeline = load_model_pipeline(artifact, device_for(settings.CLEANROOM_GENERATION["DEVICE"]))
    image = pipeline(prompt, num_inference_steps=4, generator=torch.Generator("cpu").manual_seed(seed)).images[0]

A loader loads: whether a model may still generate (`model_usable`) is the caller's rule, asked
once per step (at the request and again when the job runs). It refuses (ApplicationError)
base-model files that differ from the approved ones (`base_model_changed`) and LoRA weights
whose bytes are missing or differ from the recorded sha256 (`model_weights_missing`,
`model_weights_changed`): those are about the bytes it reads. Only local files are
read (`local_files_only`, safetensors only); nothing is downloaded.

torch and diffusers are imported inside the functions: the web process may import this
module (for the names) without loading them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.exceptions import ApplicationError

if TYPE_CHECKING:
    from training.models import BaseModel, ModelArtifact

LORA_ADAPTER_NAME = "cleanroom"
# Per process: the stat signature of each base-model directory whose every file was hashed and
# matched. A directory is hashed again when any file's size, mtime or inode changes, so a
# worker does not re-read gigabytes of weights for every job.
_verified: dict[tuple[str, str], tuple] = {}
_verified_lock = threading.Lock()


def device_for(setting: str = "auto") -> str:
    """The torch device for a DEVICE setting: `auto` (CUDA when present, else CPU), `cpu`,
    `cuda` or `cuda:N`. Asking for CUDA where there is none is refused, not silently CPU."""
    import torch

    choice = (setting or "auto").strip().lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ApplicationError(f"device {setting!r} was configured but no CUDA device is available", code="no_cuda_device")
        return choice
    raise ApplicationError(f"unknown device setting {setting!r}: auto, cpu, cuda or cuda:N", code="invalid_device")


def load_base_pipeline(directory: str | Path, device: str, *, dtype: Any = None):
    """A `StableDiffusionPipeline` from a local `save_pretrained` directory, on `device`.

    No digest check here (training and `load_model_pipeline` check before calling). No safety
    checker: outputs are moderated by the platform. The progress bar is off.
    """
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # Loading bars would only clutter a worker's log (a CLI shows its own progress).
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    pipeline = StableDiffusionPipeline.from_pretrained(
        str(directory),
        local_files_only=True,
        use_safetensors=True,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        torch_dtype=dtype,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def _stat_signature(directory: str, files: list[dict]) -> tuple:
    signature = []
    for entry in files:
        try:
            stat = os.stat(Path(directory) / entry["path"])
        except OSError:
            return ()
        signature.append((entry["path"], stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(signature)


def verify_base_model_files(base_model: BaseModel) -> None:
    """Refuse (`base_model_changed`) unless the directory holds exactly the registered files."""
    from training.services import base_model_check_files

    key = (str(base_model.pk), base_model.sha256)
    signature = _stat_signature(base_model.directory, base_model.files)
    with _verified_lock:
        if signature and _verified.get(key) == signature:
            return
    base_model_check_files(base_model)
    with _verified_lock:
        _verified[key] = signature


def lora_weights(artifact: ModelArtifact) -> bytes:
    """The artifact's LoRA safetensors bytes, checked against its recorded sha256."""
    from core.storage import blob_open

    try:
        with blob_open(artifact.sha256) as handle:
            data = handle.read()
    except (FileNotFoundError, OSError):
        raise ApplicationError(
            f"model {artifact.pk}'s LoRA weights (blob {artifact.sha256}) are missing", code="model_weights_missing", status=409
        ) from None
    if hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise ApplicationError(
            f"model {artifact.pk}'s LoRA weights differ from the recorded sha256 {artifact.sha256}",
            code="model_weights_changed",
            status=409,
        )
    return data


def load_model_pipeline(artifact: ModelArtifact, device: str, *, dtype: Any = None):
    """The artifact's base pipeline with its LoRA loaded (adapter `cleanroom`), on `device`.

    Checks the bytes it reads: the base model's files are the approved ones, the LoRA bytes
    match their sha256. Raises ApplicationError on either failure. The caller has checked that
    the model may generate (`model_usable`).
    """
    from safetensors.torch import load as load_safetensors

    verify_base_model_files(artifact.base_model)
    state_dict = load_safetensors(lora_weights(artifact))
    pipeline = load_base_pipeline(artifact.base_model.directory, "cpu", dtype=dtype)
    pipeline.load_lora_weights(state_dict, adapter_name=LORA_ADAPTER_NAME)
    return pipeline.to(device)
