"""Where rivaGan's two models run: onnxruntime (float32, CPU) or torch (the worker's device, in
its fastest precision, see rivagan_torch.py). Both read the same ONNX files that
invisible-watermark ships and compute the same graph, so a mark made by one reads with the other.

CLEANROOM_WATERMARK['ENGINE'] chooses: `auto` (the default) takes torch where it is installed
and has a fast path (a CUDA device, or a CPU with native bfloat16: AMX or AVX-512 BF16), else
onnxruntime; `torch` and `onnxruntime` force one. CLEANROOM_WATERMARK['DEVICE'] (`auto`, `cpu`,
`cuda`, `cuda:N`) places the torch engine: a GPU worker's watermark runs on its GPU. The web
image has no torch: its processes (and the CPU audit workers that verify copies) use onnxruntime.

One engine per process: onnxruntime sessions and CUDA contexts do not survive a fork, so a
Celery worker child loads its own.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

ENGINES = ("auto", "onnxruntime", "torch")


class Engine(Protocol):
    name: str

    def residual(self, frames: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """The mark for RGB uint8 frames (batch, H, W, 3), each carrying its 32 `bits`: float32
        grey levels, RGB, same shape; the marked frame is the frame plus this."""

    def scores(self, frames: np.ndarray) -> np.ndarray:
        """The decoder's 32 raw scores per RGB uint8 frame: (batch, 32), float64."""


def model_dir() -> Path:
    # find_spec does not execute imwatermark/__init__.py (which imports torch).
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("the rivaGan watermark needs the invisible-watermark package (imwatermark)")
    return Path(next(iter(spec.submodule_search_locations)))


class OnnxEngine:
    name = "onnxruntime"

    def __init__(self, directory: Path) -> None:
        import onnxruntime

        providers = ["CPUExecutionProvider"]
        self._encoder = onnxruntime.InferenceSession(str(directory / "rivagan_encoder.onnx"), providers=providers)
        self._decoder = onnxruntime.InferenceSession(str(directory / "rivagan_decoder.onnx"), providers=providers)

    @staticmethod
    def _to_model(frames: np.ndarray) -> np.ndarray:
        """RGB uint8 → the models' input: BGR in [-1, 1], (batch, 3, 1, H, W)."""
        batch = frames[..., ::-1].astype(np.float32) / 127.5 - 1.0
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)[:, :, None])

    def residual(self, frames: np.ndarray, bits: np.ndarray) -> np.ndarray:
        model_input = self._to_model(frames)
        data = np.asarray(bits, dtype=np.float32)
        marked = self._encoder.run(None, {"frame": model_input, "data": data})[0]
        residual_bgr = (marked - model_input)[:, :, 0].transpose(0, 2, 3, 1) * 127.5
        return np.ascontiguousarray(residual_bgr[..., ::-1], dtype=np.float32)

    def scores(self, frames: np.ndarray) -> np.ndarray:
        return self._decoder.run(None, {"frame": self._to_model(frames)})[0].astype(np.float64)


class TorchEngine:
    name = "torch"

    def __init__(self, directory: Path, device: str) -> None:
        from generation.watermarks.rivagan_torch import RivaGanTorch

        self._nets = RivaGanTorch(directory, device)
        self.device, self.dtype = self._nets.device, self._nets.dtype

    def residual(self, frames: np.ndarray, bits: np.ndarray) -> np.ndarray:
        return self._nets.residual(frames, bits)

    def scores(self, frames: np.ndarray) -> np.ndarray:
        return self._nets.scores(frames)


_engines: dict[tuple[int, str, str], Engine] = {}
_lock = threading.Lock()


def _settings() -> tuple[str, str]:
    from django.conf import settings

    configured = getattr(settings, "CLEANROOM_WATERMARK", {}) if settings.configured else {}
    engine, device = configured.get("ENGINE", "auto") or "auto", configured.get("DEVICE", "auto") or "auto"
    if engine not in ENGINES:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"CLEANROOM_WATERMARK['ENGINE'] is {engine!r}; expected one of {', '.join(ENGINES)}")
    return engine, device


def _torch_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_is_fast(device: str) -> bool:
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnx") is None:
        return False
    import torch

    from generation.watermarks.rivagan_torch import fast_dtype

    return device.startswith("cuda") or fast_dtype(device) != torch.float32


def engine(choice: str | None = None, device: str | None = None) -> Engine:
    """This process's engine for the configured (or the given) choice and device."""
    configured_choice, configured_device = _settings()
    choice, device = choice or configured_choice, device or configured_device
    key = (os.getpid(), choice, device)
    found = _engines.get(key)
    if found is not None:
        return found
    with _lock:
        found = _engines.get(key)
        if found is None:
            for stale in [k for k in _engines if k[0] != os.getpid()]:
                del _engines[stale]  # inherited from a parent process: unusable here
            found = _build(choice, device)
            _engines[key] = found
    return found


def _build(choice: str, device: str) -> Engine:
    directory = model_dir()
    if choice == "onnxruntime":
        return OnnxEngine(directory)
    if choice == "torch":
        return TorchEngine(directory, _torch_device(device))
    if importlib.util.find_spec("torch") is not None:
        placed = _torch_device(device)
        if _torch_is_fast(placed):
            return TorchEngine(directory, placed)
    return OnnxEngine(directory)


def forget_engines() -> None:
    """Drop this process's engines (tests that switch settings)."""
    with _lock:
        _engines.clear()
