"""The LoRA loop itself: deterministic given the seed on the CPU, a loss per step, images
scaled and centre-cropped to the resolution, and stoppable between steps."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.provenance.factories import image_bytes
from training.loop import Example, LoopConfig, TrainingCancelled, image_tensor, library_versions, train_lora


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    found = {}
    for seed in range(3):
        data = image_bytes(seed, size=(96, 64))
        found[hashlib.sha256(data).hexdigest()] = data
    return found


def train(tiny_model_dir, images, *, seed: int, steps: int = 3, on_step=None, **options):
    examples = [Example(sha256=sha256, caption=f"photo {i}") for i, sha256 in enumerate(images)]
    return train_lora(
        base_directory=tiny_model_dir,
        examples=examples,
        config=LoopConfig(steps=steps, seed=seed, **options),
        device="cpu",
        read_image=images.__getitem__,
        on_step=on_step,
    )


def test_the_same_seed_gives_byte_identical_weights_and_another_seed_does_not(tiny_model_dir, images):
    first = train(tiny_model_dir, images, seed=11)
    again = train(tiny_model_dir, images, seed=11)
    other = train(tiny_model_dir, images, seed=12)
    assert first.lora_weights == again.lora_weights and first.loss_curve == again.loss_curve
    assert other.lora_weights != first.lora_weights
    assert len(first.loss_curve) == 3 and all(loss > 0 for loss in first.loss_curve)
    assert first.device == "cpu" and first.config["resolution"] == 64 and first.config["rank"] == 4
    assert set(first.library_versions) >= {"torch", "diffusers", "peft", "accelerate", "transformers"}
    assert first.library_versions == library_versions()


def test_the_weights_are_a_unet_lora_in_safetensors(tiny_model_dir, images):
    from safetensors.torch import load

    result = train(tiny_model_dir, images, seed=1, steps=1, rank=2)
    tensors = load(result.lora_weights)
    assert tensors and all(name.startswith("unet.") for name in tensors)
    targets = {"to_q", "to_k", "to_v", "to_out.0"}
    assert {next(t for t in targets if f".{t}.lora" in name) for name in tensors} == targets
    assert {tuple(t.shape) for name, t in tensors.items() if "lora.down" in name} <= {(2, 32), (2, 64)}


def test_a_callback_can_stop_the_loop_between_steps(tiny_model_dir, images):
    seen = []

    def stop_after_two(step, loss):
        seen.append(step)
        if step == 2:
            raise TrainingCancelled("enough")

    with pytest.raises(TrainingCancelled):
        train(tiny_model_dir, images, seed=1, steps=50, on_step=stop_after_two)
    assert seen == [1, 2]


def test_images_are_scaled_on_the_short_side_and_centre_cropped():
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # a white centre third
    buffer = io.BytesIO()
    wide.save(buffer, format="PNG")
    tensor = image_tensor(buffer.getvalue(), 64)
    assert tuple(tensor.shape) == (3, 64, 64)
    # Only the white centre survives the crop (white maps to 1.0; bicubic softens the edges).
    assert float(tensor.min()) > 0.8 and float(tensor.mean()) > 0.99
