"""A tiny stand-in for TrustMark's model files, built from a config in code, for the `trustmark`
watermark backend's tests (the real files cannot be downloaded here).

It has the interface the backend loads from TrustMark's files: a module built from the YAML
config's `model.target` with `model.params`, whose `forward(cover, secret)` returns
`(stego, residual)` for a cover in [-1, 1] at the encoder's 256², and whose `decoder(image)`
returns one logit per secret bit (> 0 meaning 1) for an image at the decoder's resolution.
Inside it is a plain spread-spectrum watermark: one smooth ±1 pattern per bit, added with the
bit's sign and read back by correlation after removing the image's local mean. The patterns
live in the checkpoint: a model whose weights were not loaded has none and carries nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

SECRET_LEN = 100
RESOLUTION = 256
# One pattern cell is this many pixels at 256²: coarse enough to survive the backend's resizes.
_CELL = 8
_AMPLITUDE = 0.008  # in [-1, 1] units, per pattern (~29 dB PSNR: a stand-in, not tuned for looks)


class _Decoder(nn.Module):
    def __init__(self, secret_len: int, resolution: int) -> None:
        super().__init__()
        self.register_buffer("patterns", torch.zeros(secret_len, 3, resolution, resolution))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = self.patterns.shape[-2:]
        image = functional.interpolate(image, size=size, mode="bilinear", align_corners=False)
        detail = image - functional.avg_pool2d(image, 2 * _CELL + 1, stride=1, padding=_CELL, count_include_pad=False)
        return torch.einsum("bchw,kchw->bk", detail, self.patterns) / self.patterns[0].numel()


class TinyTrustMark(nn.Module):
    def __init__(self, secret_len: int = SECRET_LEN, resolution: int = RESOLUTION, amplitude: float = _AMPLITUDE) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.decoder = _Decoder(secret_len, resolution)

    def forward(self, cover: torch.Tensor, secret: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        signs = secret * 2.0 - 1.0
        residual = self.amplitude * torch.einsum("bk,kchw->bchw", signs, self.decoder.patterns)
        return cover + residual, residual


def build_tiny_trustmark(directory: Path, *, variant: str = "Q", seed: int = 0) -> Path:
    """Write `trustmark_<variant>.yaml`, `encoder_<variant>.ckpt` and `decoder_<variant>.ckpt`
    as an operator would lay out TrustMark's files; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cells = RESOLUTION // _CELL
    signs = np.sign(rng.normal(size=(SECRET_LEN, 3, cells, cells))).astype(np.float32)
    patterns = torch.from_numpy(signs).repeat_interleave(_CELL, dim=2).repeat_interleave(_CELL, dim=3)
    model = TinyTrustMark()
    model.load_state_dict({"decoder.patterns": patterns})
    (directory / f"trustmark_{variant}.yaml").write_text(
        f"model:\n  target: {__name__}.TinyTrustMark\n  params:\n    secret_len: {SECRET_LEN}\n    resolution: {RESOLUTION}\n"
    )
    for part in ("encoder", "decoder"):
        torch.save({"state_dict": model.state_dict(), "global_step": 0}, directory / f"{part}_{variant}.ckpt")
    return directory
