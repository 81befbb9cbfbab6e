"""NSFW detection for the auditing pipeline and output moderation: one backend per module.

- `nudenet` (default; nsfw/nudenet.py): NudeNet's body-part detector, with the labels that
  count and the threshold, and why.
- `clip` (nsfw/clip.py): an open_clip embedding from local files scored by a small head, or
  zero-shot.
- or the dotted path of an NsfwDetector subclass (nsfw/base.py).

CLEANROOM_NSFW names the backend (BACKEND) and holds its settings; `detector_from_settings`
builds it. Models are loaded lazily, once per process, single-threaded: audit workers scale by
processes, and a second thread per process only competes with the other workers for cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditing.detectors.nsfw.base import DEFAULT_THRESHOLD, DetectorUnavailable, NsfwDetector, NsfwLabel, NsfwResult
from core.registry import BackendRegistry

__all__ = [
    "DEFAULT_THRESHOLD",
    "NSFW_DETECTORS",
    "DetectorUnavailable",
    "NsfwDetector",
    "NsfwLabel",
    "NsfwResult",
    "detector_from_settings",
]

NSFW_DETECTORS: BackendRegistry[NsfwDetector] = BackendRegistry(
    kind="NSFW",
    setting="CLEANROOM_NSFW['BACKEND']",
    base=NsfwDetector,
    builtins={
        "nudenet": "auditing.detectors.nsfw.nudenet.NudeNetDetector",
        "clip": "auditing.detectors.nsfw.clip.ClipNsfwDetector",
    },
)


def detector_from_settings(config: Mapping[str, Any]) -> NsfwDetector:
    """The backend a config dict names, e.g. {"BACKEND": "nudenet", "THRESHOLD": 0.5} or
    {"BACKEND": "clip", "MODEL": "ViT-L-14" or "/models/clip.json", "WEIGHTS": "/models/clip.safetensors",
    "HEAD": "/models/nsfw-head.safetensors"}.

    Unknown backends and unknown keys are errors (ValueError): a misspelt THRESHOLD must not
    silently fall back to the default.
    """
    backend = config.get("BACKEND", "nudenet")
    detector = NSFW_DETECTORS.load(backend)
    unknown = set(config) - {"BACKEND", *detector.setting_keys}
    if unknown:
        raise ValueError(f"unknown settings for the {backend!r} NSFW backend: {', '.join(sorted(unknown))}")
    return detector.from_settings(config)
