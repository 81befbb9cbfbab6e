"""Output moderation: the auditing app's NSFW detector, configured by CLEANROOM_NSFW, runs on
every generated image before anything of it is stored or returned. The same detector, labels and
threshold decide for training data and for outputs, so the platform has one content policy."""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from PIL import Image


def moderate(image: Image.Image) -> dict:
    """The detector's verdict as JSON: `flagged`, `score`, `threshold`, `labels`, `detector`, `version`."""
    from auditing.detectors.nsfw import detector_from_settings

    detector = detector_from_settings(settings.CLEANROOM_NSFW)
    result = detector.detect(image)
    return {"detector": detector.name, "version": detector.version, **asdict(result)}
