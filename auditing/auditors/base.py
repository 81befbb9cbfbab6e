"""What every auditor receives and returns. An auditor is one module with one `Auditor` subclass
that has a `name`, a `version` and `audit(subject) -> list[FindingDraft]`; settings list which
are on (auditing/registry.py)."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from PIL import Image


@dataclass
class AuditSubject:
    asset_id: str
    sha256: str
    data: bytes
    metadata: dict[str, Any]
    caption: str
    original_name: str

    @cached_property
    def image(self) -> Image.Image:
        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image


@dataclass(frozen=True)
class FindingDraft:
    code: str
    score: float
    details: dict[str, Any] = field(default_factory=dict)


class Auditor(ABC):
    """The base the registry checks a configured class against."""

    name: ClassVar[str]
    # A class attribute or a property: a change of version re-audits every asset.
    version: str

    @abstractmethod
    def audit(self, subject: AuditSubject) -> list[FindingDraft]: ...
