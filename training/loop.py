"""The LoRA training loop (diffusers + peft + accelerate), on CUDA when present, else the CPU,
by the same code.

Only the GPU worker imports this module, through `training_execute`; torch and friends are
imported inside the functions all the same, so importing it by mistake costs nothing.

Determinism: every random draw (LoRA initialisation, example order, VAE sampling, noise,
timesteps) comes from generators seeded with the run's seed; the process's global random
state is left as it was. On the CPU the same seed, data and versions give byte-identical
LoRA weights.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

LORA_TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
VERSIONED_LIBRARIES = ("torch", "diffusers", "peft", "accelerate", "transformers", "safetensors", "numpy", "Pillow")


@dataclass(frozen=True)
class Example:
    """One training image (by the sha256 of its bytes) and its caption."""

    sha256: str
    caption: str


@dataclass(frozen=True)
class LoopConfig:
    steps: int
    seed: int
    rank: int = 4
    learning_rate: float = 1e-4
    batch_size: int = 1
    resolution: int | None = None  # None: the base model's native size (UNet sample size × VAE scale)
    mixed_precision: str = "no"  # no | fp16 | bf16 (fp16/bf16 on CUDA only)
    max_grad_norm: float = 1.0
    target_modules: tuple[str, ...] = field(default=LORA_TARGET_MODULES)

    def as_json(self) -> dict:
        values = asdict(self)
        values["target_modules"] = list(self.target_modules)
        return values


@dataclass
class LoopResult:
    lora_weights: bytes
    loss_curve: list[float]
    config: dict  # LoopConfig.as_json() with the resolution actually used
    device: str
    library_versions: dict[str, str]
    timings: dict[str, float]


class TrainingCancelled(Exception):
    """Raised by an `on_step` callback to stop the loop between two steps."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour decides the weights (no imports)."""
    versions = {}
    for name in VERSIONED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def image_tensor(data: bytes, resolution: int):
    """Decode, scale the shorter side to `resolution`, centre-crop a square, map to [-1, 1] (CHW)."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = resolution / min(image.size)
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
    image = image.crop((left, top, left + resolution, top + resolution))
    pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def _batches(count: int, batch_size: int, seed: int):
    """Endless batches of example indices: a fresh seeded permutation each epoch."""
    import numpy as np

    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(count)
        for start in range(0, count, batch_size):
            batch = order[start : start + batch_size]
            if len(batch) == batch_size or count < batch_size:
                yield [int(i) for i in batch]


def train_lora(
    *,
    base_directory: str | Path,
    examples: Sequence[Example],
    config: LoopConfig,
    device: str,
    read_image: Callable[[str], bytes],
    on_step: Callable[[int, float], None] | None = None,
) -> LoopResult:
    """Fine-tune a LoRA on the base pipeline's UNet and return its weights (safetensors bytes).

    `read_image(sha256)` returns an example's bytes (the caller checks their digest);
    `on_step(step, loss)` runs after each optimiser step and may raise `TrainingCancelled`.
    """
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from training.pipelines import load_base_pipeline

    if not examples:
        raise ValueError("no training examples")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision=config.mixed_precision if device != "cpu" else "no")
    pipeline = load_base_pipeline(base_directory, "cpu")
    unet, vae, text_encoder, tokenizer = pipeline.unet, pipeline.vae, pipeline.text_encoder, pipeline.tokenizer
    noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    resolution = config.resolution or unet.config.sample_size * pipeline.vae_scale_factor
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # peft initialises the LoRA matrices from the global generator
        unet.add_adapter(
            LoraConfig(
                r=config.rank,
                lora_alpha=config.rank,
                init_lora_weights="gaussian",
                target_modules=list(config.target_modules),
            )
        )
    trainable = [parameter for parameter in unet.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    vae.to(accelerator.device)
    text_encoder.to(accelerator.device)
    generator = torch.Generator("cpu").manual_seed(config.seed)
    batches = _batches(len(examples), config.batch_size, config.seed)
    timings["load_s"] = time.perf_counter() - started

    loss_curve: list[float] = []
    train_started = time.perf_counter()
    unet.train()
    for step in range(1, config.steps + 1):
        batch = [examples[i] for i in next(batches)]
        pixels = torch.stack([image_tensor(read_image(example.sha256), resolution) for example in batch])
        input_ids = tokenizer(
            [example.caption for example in batch],
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        with torch.no_grad():
            posterior = vae.encode(pixels.to(accelerator.device)).latent_dist
            sample = torch.randn(posterior.mean.shape, generator=generator).to(accelerator.device)
            latents = (posterior.mean + posterior.std * sample) * vae.config.scaling_factor
            encoder_hidden_states = text_encoder(input_ids.to(accelerator.device))[0]
        noise = torch.randn(latents.shape, generator=generator).to(accelerator.device)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),), generator=generator)
        timesteps = timesteps.to(accelerator.device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        prediction = unet(noisy, timesteps, encoder_hidden_states).sample
        loss = F.mse_loss(prediction.float(), target.float(), reduction="mean")
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_curve.append(float(loss.detach().item()))
        if on_step is not None:
            on_step(step, loss_curve[-1])
    timings["train_s"] = time.perf_counter() - train_started
    timings["step_s_mean"] = timings["train_s"] / max(1, config.steps)

    saved = time.perf_counter()
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(accelerator.unwrap_model(unet)))
    layers = {name: tensor.detach().to("cpu", torch.float32).contiguous() for name, tensor in layers.items()}
    with tempfile.TemporaryDirectory(prefix="cleanroom-lora-") as folder:
        StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
        weights = (Path(folder) / LORA_WEIGHT_NAME).read_bytes()
    timings["save_s"] = time.perf_counter() - saved
    timings["total_s"] = time.perf_counter() - started
    accelerator.free_memory()
    return LoopResult(
        lora_weights=weights,
        loss_curve=loss_curve,
        # The thread count is recorded: on the CPU it changes the last bits of a float sum.
        config={**config.as_json(), "resolution": resolution, "torch_threads": torch.get_num_threads()},
        device=str(accelerator.device),
        library_versions=library_versions(),
        timings={name: round(value, 4) for name, value in timings.items()},
    )
