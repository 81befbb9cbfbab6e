"""rivaGan's encoder and decoder in torch: the same weights (read from the ONNX files that
invisible-watermark ships) and the same graph, on the worker's device and in its fastest precision.

onnxruntime runs the models in float32 on the CPU only: ~1 s per pass at 512² on one core, four
11×11 convolutions of 32 channels over every pixel. In torch the convolutions run in bfloat16
on a CPU with AMX or AVX-512 BF16 (~10× float32 on one core, measured in bench/release.py) and
in float16 on a CUDA device; the attention softmax, the products and sums that follow, and the
residual stay in float32, so the mark and the decoder's scores differ from the float32 graph by
far less than the rounding to whole grey levels (tests/generation/test_watermark_engines.py).

The graph (rivaGan, Zhang et al. 2019, as exported to ONNX):
- encoder: attention A = softmax over 32 channels of BN(tanh(conv(BN(tanh(conv(frame)))))),
  m = Σ_l A_l · (2·bit_l − 1), residual = 0.016 · tanh(conv(BN(tanh(conv([frame, m]))))),
  marked = frame + residual;
- decoder: the same attention on the frame, features F = conv(BN(tanh(conv(frame)))), and the
  32 scores are the mean over pixels of F · A.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

BITS = 32
RESIDUAL_SCALE = 0.016  # the encoder graph's constant: the mark's amplitude in [-1, 1] units


def fast_dtype(device: str) -> Any:
    """The precision the convolutions run in on `device`: bfloat16 where the CPU computes it
    natively, float16 on CUDA, else float32 (bfloat16 emulated is slower than float32)."""
    import torch

    if device.startswith("cuda"):
        return torch.float16
    if torch.backends.mkldnn.is_available() and _cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def _cpu_has_native_bf16() -> bool:
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    # Layer parameters are named after the PyTorch modules (`_attention.0.weight`); the graph's
    # other initializers are shape constants.
    return {
        tensor.name: numpy_helper.to_array(tensor).copy() for tensor in model.graph.initializer if tensor.name.startswith("_")
    }


class _Layers:
    """The convolutions (as 2-D: the exported kernels are 1×11×11 over a time axis of one frame)
    and the batch norms (as per-channel scale and shift) of one model."""

    def __init__(self, weights: dict[str, np.ndarray], device: str, dtype: Any) -> None:
        import torch

        self.dtype = dtype
        self.device = device
        self.convs: dict[str, tuple[Any, Any]] = {}
        self.norms: dict[str, tuple[Any, Any]] = {}
        for name in {key.rsplit(".", 1)[0] for key in weights}:
            weight = weights[f"{name}.weight"]
            if weight.ndim == 5:
                kernel = torch.from_numpy(np.ascontiguousarray(weight[:, :, 0])).to(device=device, dtype=dtype)
                bias = torch.from_numpy(weights[f"{name}.bias"]).to(device=device, dtype=dtype)
                self.convs[name] = (kernel.contiguous(memory_format=torch.channels_last), bias)
            else:
                inverse = 1.0 / np.sqrt(weights[f"{name}.running_var"] + 1e-5)
                scale = weight * inverse
                shift = weights[f"{name}.bias"] - weights[f"{name}.running_mean"] * scale
                self.norms[name] = (
                    torch.from_numpy(scale.astype(np.float32)).to(device=device, dtype=dtype)[None, :, None, None],
                    torch.from_numpy(shift.astype(np.float32)).to(device=device, dtype=dtype)[None, :, None, None],
                )

    def conv(self, name: str, x: Any) -> Any:
        import torch.nn.functional as F

        kernel, bias = self.convs[name]
        return F.conv2d(x, kernel, bias, padding=kernel.shape[-1] // 2)

    def norm(self, name: str, x: Any) -> Any:
        import torch

        scale, shift = self.norms[name]
        return torch.addcmul(shift, x, scale)

    def block(self, prefix: str, x: Any) -> Any:
        """conv → tanh → BN → conv, the shape of every branch of both models."""
        return self.conv(f"{prefix}.3", self.norm(f"{prefix}.2", _tanh(self.conv(f"{prefix}.0", x))))

    def attention(self, x: Any) -> Any:
        """Softmax over the 32 channels, as (batch, pixels, 32) in float32."""
        import torch

        logits = self.norm("_attention.5", _tanh(self.block("_attention", x)))
        return torch.softmax(_pixels(logits).float(), dim=-1)


def _tanh(x: Any) -> Any:
    # tanh has no vectorised bfloat16 kernel on the CPU: through float32 it is ~3× faster.
    return x.float().tanh_().to(x.dtype)


def _pixels(x: Any) -> Any:
    """(batch, C, H, W) in channels-last memory → a (batch, H·W, C) view, no copy."""
    batch, channels = x.shape[:2]
    return x.permute(0, 2, 3, 1).reshape(batch, -1, channels)


class RivaGanTorch:
    """Both models on one device. Frames are RGB uint8 arrays (batch, H, W, 3) of one shape."""

    def __init__(self, model_dir: Path, device: str = "cpu", dtype: Any = None) -> None:
        import torch

        self.device = device
        self.dtype = dtype if dtype is not None else fast_dtype(device)
        self._torch = torch
        self._encoder = _Layers(_initializers(model_dir / "rivagan_encoder.onnx"), device, self.dtype)
        self._decoder = _Layers(_initializers(model_dir / "rivagan_decoder.onnx"), device, self.dtype)

    def _frames(self, frames: np.ndarray) -> Any:
        """RGB uint8 (batch, H, W, 3) → the models' input: BGR in [-1, 1], (batch, 3, H, W)."""
        torch = self._torch
        batch = torch.from_numpy(np.ascontiguousarray(frames[..., ::-1])).to(self.device)
        batch = batch.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        return batch.contiguous(memory_format=torch.channels_last)

    def residual(self, frames: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """The mark for each frame carrying its 32 `bits` (batch, 32): float32 grey levels,
        RGB, (batch, H, W, 3); the marked frame is the frame plus this."""
        torch = self._torch
        layers = self._encoder
        batch, height, width = frames.shape[:3]
        with torch.inference_mode():
            frame = self._frames(frames)
            signs = torch.from_numpy(np.asarray(bits, dtype=np.float32) * 2.0 - 1.0).to(self.device)
            attention = layers.attention(frame.to(self.dtype))
            message = torch.bmm(attention, signs[:, :, None]).view(batch, height, width, 1).permute(0, 3, 1, 2)
            x = torch.cat([frame, message], dim=1).to(self.dtype).contiguous(memory_format=torch.channels_last)
            residual = layers.block("_conv", x).float().tanh_().mul_(RESIDUAL_SCALE * 127.5)
            return residual.permute(0, 2, 3, 1).flip(-1).cpu().numpy()

    def scores(self, frames: np.ndarray) -> np.ndarray:
        """The decoder's 32 raw scores per frame, (batch, 32), float64."""
        torch = self._torch
        layers = self._decoder
        with torch.inference_mode():
            frame = self._frames(frames).to(self.dtype)
            attention = layers.attention(frame)
            features = _pixels(layers.block("_conv", frame)).float()
            return (features * attention).mean(dim=1).double().cpu().numpy()
