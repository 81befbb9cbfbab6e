"""What an NSFW detector backend is: the class CLEANROOM_NSFW['BACKEND'] names, and what it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypedDict

from django.core.exceptions import ImproperlyConfigured
from PIL import Image

DEFAULT_THRESHOLD = 0.5

Box = tuple[int, int, int, int]


class DetectorUnavailable(ImproperlyConfigured):
    """The backend cannot run here: a package or a weights file is missing or unreadable."""


class NsfwLabel(TypedDict):
    label: str
    score: float
    box: Box  # (x, y, width, height) in the pixels of the image passed to detect()


class SetAside(TypedDict):
    """A counted label that a backend's sanity policy did not count, and why (see nsfw/sanity.py)."""

    label: str
    score: float
    box: Box
    rule: str
    skin_fraction: float
    box_coverage: float
    reason: str


@dataclass(frozen=True)
class NsfwResult:
    flagged: bool
    score: float  # the highest score among counted labels, 0.0 when none was found
    threshold: float
    labels: list[NsfwLabel] = field(default_factory=list)
    # Counted labels the backend's policy did not count, with the reason: kept in findings and
    # moderation records so that what was not counted stays visible.
    set_aside: list[SetAside] = field(default_factory=list)


class NsfwDetector(ABC):
    """Built from the CLEANROOM_NSFW dict without loading any model (the web process reads
    `version`); the model loads on the first `detect`."""

    name: ClassVar[str]
    # Everything that changes a decision (model, threshold, what counts): a change re-audits.
    version: str
    # The CLEANROOM_NSFW keys this backend reads besides BACKEND; any other key is refused, so
    # a misspelt THRESHOLD never silently falls back to the default.
    setting_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    @abstractmethod
    def from_settings(cls, config: Mapping[str, Any]) -> Self:
        """The detector the config describes; ValueError or DetectorUnavailable when it cannot be built."""

    @abstractmethod
    def detect(self, image: Image.Image) -> NsfwResult: ...
