"""Invisible-watermark backends, one module each: `rivagan` (rivagan.py, the default), `trustmark`
(trustmark.py, from operator-provided model files), or the dotted path of a WatermarkBackend
subclass (base.py), named by CLEANROOM_WATERMARK['BACKEND']. Callers use generation/watermark.py."""

from __future__ import annotations

from core.registry import BackendRegistry
from generation.watermarks.base import WatermarkBackend

DEFAULT_BACKEND = "rivagan"

WATERMARKS: BackendRegistry[WatermarkBackend] = BackendRegistry(
    kind="watermark",
    setting="CLEANROOM_WATERMARK['BACKEND']",
    base=WatermarkBackend,
    builtins={
        "rivagan": "generation.watermarks.rivagan.RivaGanWatermark",
        "rivagan-v1": "generation.watermarks.rivagan.RivaGanV1Watermark",
        "trustmark": "generation.watermarks.trustmark.TrustMarkWatermark",
    },
)


def configured_backend() -> WatermarkBackend:
    """The backend CLEANROOM_WATERMARK names; rivaGan outside Django (bench scripts)."""
    from django.conf import settings

    name = (
        getattr(settings, "CLEANROOM_WATERMARK", {}).get("BACKEND", DEFAULT_BACKEND) if settings.configured else DEFAULT_BACKEND
    )
    return WATERMARKS.load(name)()


def readers(backend: WatermarkBackend) -> list[WatermarkBackend]:
    """`backend`, then each backend whose older marks it still reads, unless
    CLEANROOM_WATERMARK['READ_OLDER_MARKS'] is off (a deployment that never released an output
    under them saves their decoder passes on every image that is not ours)."""
    from django.conf import settings

    configured = getattr(settings, "CLEANROOM_WATERMARK", {}) if settings.configured else {}
    if not configured.get("READ_OLDER_MARKS", True):
        return [backend]
    return [backend, *(WATERMARKS.load(name)() for name in backend.also_reads)]
