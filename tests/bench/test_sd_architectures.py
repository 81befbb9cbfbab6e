"""bench/sd_architectures.py: the full-size SD 1.5 and SDXL configs give the published
architectures (parameter counts, built on the `meta` device: shapes without memory), and the
same builders, shrunk, make images and take LoRA steps on the CPU, so the CUDA benchmark's code
is exercised where there is no GPU."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def architectures():
    spec = importlib.util.spec_from_file_location("sd_architectures", BENCH / "sd_architectures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sd_architectures", module)
    spec.loader.exec_module(module)
    return module


# Published parameter counts: runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-xl-base-1.0.
PUBLISHED = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sdxl": {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}


@pytest.mark.parametrize("name", ["sd15", "sdxl"])
def test_the_full_size_configs_build_the_published_architectures(architectures, name):
    modules = architectures.build_modules(name, device="meta")

    assert {key: architectures.parameter_count(module) for key, module in modules.items()} == PUBLISHED[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sd15-tiny", "sdxl-tiny"])
def test_the_shrunk_builders_make_an_image_and_take_lora_steps_on_the_cpu(architectures, name):
    import torch

    pipeline = architectures.build_pipeline(name, device="cpu", dtype=torch.float32)
    side = architectures.ARCHITECTURES[name]["resolution"]

    image = pipeline(
        prompt="a lighthouse", num_inference_steps=2, width=side, height=side, generator=torch.Generator("cpu").manual_seed(0)
    ).images[0]

    assert image.size == (side, side)
    trained = architectures.lora_train_steps(name, device="cpu", dtype=torch.float32, steps=1)
    assert math.isfinite(trained["loss"]) and trained["s_per_step"] > 0 and trained["peak_gib"] == 0
