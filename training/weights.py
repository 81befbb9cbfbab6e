"""Base-model directories on disk: what counts as one, and the digests that pin it.

A base model is a diffusers pipeline saved with `save_pretrained`: a folder with a
`model_index.json` naming its components, one sub-folder each. Its identity is the list of
every file in it with its sha256 and size; the digest of that list (`sha256sum` format, paths
sorted by code point) is the model's sha256. Pure functions: no database, no torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from core.exceptions import ApplicationError
from core.json_bounds import JsonTooDeep, json_loads
from core.storage import sha256_of_file

# Pipelines whose components the training loop knows (UNet + VAE + one CLIP text encoder).
SUPPORTED_PIPELINES = {"StableDiffusionPipeline"}
REQUIRED_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
# Pickle-based weight files execute code when loaded: a base model must use safetensors.
PICKLE_SUFFIXES = {".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle"}


@dataclass(frozen=True)
class PipelineDirectory:
    directory: Path
    pipeline_class: str
    files: list[dict]  # [{path, sha256, size}], sorted by path
    sha256: str
    native_size: tuple[int, int] | None = None  # (width, height) in pixels; None when unknown


def _config(path: Path) -> dict:
    try:
        config = json_loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, JsonTooDeep):
        return {}
    return config if isinstance(config, dict) else {}


def native_size(directory: str | Path) -> tuple[int, int] | None:
    """The (width, height) the pipeline makes when asked for no size, read from its configs
    without torch, as diffusers' StableDiffusionPipeline computes it: the UNet's `sample_size`
    (latent pixels; an int, or [height, width]) times the VAE's scale factor, 2 ** (number of
    `block_out_channels` - 1). None when a config does not say."""
    path = Path(directory)
    sample = _config(path / "unet" / "config.json").get("sample_size")
    channels = _config(path / "vae" / "config.json").get("block_out_channels")
    if isinstance(sample, int) and not isinstance(sample, bool):
        latent_height = latent_width = sample
    elif isinstance(sample, list) and len(sample) == 2 and all(type(side) is int for side in sample):
        latent_height, latent_width = sample
    else:
        return None
    if not isinstance(channels, list) or not channels or min(latent_height, latent_width) < 1:
        return None
    scale = 2 ** (len(channels) - 1)
    return latent_width * scale, latent_height * scale


def files_sha256(files: list[dict]) -> str:
    """The digest of a file list, as `sha256sum` prints it: `<sha256>  <path>` per line."""
    lines = "".join(f"{entry['sha256']}  {entry['path']}\n" for entry in sorted(files, key=lambda e: e["path"]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _listed_files(directory: Path) -> list[Path]:
    # Hidden entries (.git, .cache, editor files) are not part of a pipeline: diffusers never
    # reads them. Symbolic links are followed (a hub cache snapshot is made of them); the file
    # behind the link is what gets hashed, under the link's path.
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            found.append(path)
    return found


def hash_files(directory: Path) -> list[dict]:
    files = []
    for path in _listed_files(directory):
        with path.open("rb") as handle:
            sha256, size = sha256_of_file(handle)
        files.append({"path": path.relative_to(directory).as_posix(), "sha256": sha256, "size": size})
    return sorted(files, key=lambda entry: entry["path"])


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code)


def scan_pipeline_directory(directory: str | Path) -> PipelineDirectory:
    """Check that `directory` is a diffusers pipeline the platform can train, and hash it.

    Refuses (ApplicationError) a path that is not a directory, has no readable
    `model_index.json`, names a component that is missing, is a pipeline class the training
    loop does not support, or holds pickle weight files.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise _refuse(f"{str(path)!r} is not a directory", "not_a_directory")
    path = path.resolve()
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise _refuse(
            f"{str(path)!r} is not a diffusers pipeline directory: it has no model_index.json (save one with save_pretrained)",
            "not_a_pipeline",
        )
    try:
        index = json_loads(index_file.read_text(encoding="utf-8"), what="model_index.json")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, JsonTooDeep) as exc:
        raise _refuse(f"{str(path)!r} has an unreadable model_index.json: {exc}", "not_a_pipeline") from None
    pipeline_class = index.get("_class_name") if isinstance(index, dict) else None
    if not isinstance(pipeline_class, str):
        raise _refuse(f"{str(path)!r}: model_index.json names no pipeline class (_class_name)", "not_a_pipeline")
    if pipeline_class not in SUPPORTED_PIPELINES:
        raise _refuse(
            f"{pipeline_class} is not supported for LoRA training (supported: {', '.join(sorted(SUPPORTED_PIPELINES))})",
            "unsupported_pipeline",
        )
    missing = [
        name
        for name in REQUIRED_COMPONENTS
        if not (isinstance(index.get(name), list) and index[name][0] and (path / name).is_dir() and any((path / name).iterdir()))
    ]
    if missing:
        raise _refuse(f"{str(path)!r} lacks the pipeline component(s) {', '.join(missing)}", "not_a_pipeline")
    files = hash_files(path)
    pickled = [entry["path"] for entry in files if Path(entry["path"]).suffix.lower() in PICKLE_SUFFIXES]
    if pickled:
        raise _refuse(
            f"{str(path)!r} holds pickle weight files ({', '.join(pickled[:5])}); loading them runs code: convert to safetensors",
            "pickle_weights",
        )
    return PipelineDirectory(
        directory=path,
        pipeline_class=pipeline_class,
        files=files,
        sha256=files_sha256(files),
        native_size=native_size(path),
    )


def changed_files(directory: str | Path, recorded: list[dict]) -> list[str]:
    """Paths that differ between the directory now and the recorded list (changed, missing or
    added), sorted; empty when the directory is exactly what was registered."""
    path = Path(directory)
    if not path.is_dir():
        return sorted(entry["path"] for entry in recorded)
    now = {entry["path"]: entry["sha256"] for entry in hash_files(path)}
    then = {entry["path"]: entry["sha256"] for entry in recorded}
    return sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))
