"""Full-size Stable Diffusion 1.5 and SDXL architectures with random weights, built from configs
written here (their published hyper-parameters: the same FLOPs and memory as the released
models, nothing downloaded), and a LoRA training step on a UNet.

- SD 1.5 (runwayml/stable-diffusion-v1-5): UNet block_out_channels (320, 640, 1280, 1280), two
  layers per block, 8 heads, cross-attention 768 (≈ 860 M parameters); CLIP ViT-L/14 text
  encoder (≈ 123 M); VAE (128, 256, 512, 512), scaling factor 0.18215; PNDM scheduler; 512².
- SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0): UNet (320, 640, 1280) with
  transformer_layers_per_block (1, 2, 10), head dims 64 (5, 10, 20 heads), linear projections,
  cross-attention 2048, `text_time` added embeddings (≈ 2.57 B parameters); two text encoders,
  CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 with projection (≈ 695 M); the same VAE with scaling
  factor 0.13025, upcast to fp32 to decode; Euler scheduler; 1024².

`*-tiny` variants take the same configs with the sizes overridden (and nothing else), so that
the builders run on a CPU in seconds and a typo in a full-size config breaks them too.
"""

from __future__ import annotations

from typing import Any

_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "act_fn": "silu",
}
_CLIP_L = {  # CLIP ViT-L/14's text tower (SD 1.5's encoder; SDXL's first)
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
}
_SCALED_LINEAR = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}

SD15: dict[str, Any] = {
    "pipeline": "StableDiffusionPipeline",
    "resolution": 512,
    "unet": {
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 2,
        "block_out_channels": (320, 640, 1280, 1280),
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        "cross_attention_dim": 768,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
    },
    "vae": {**_VAE, "sample_size": 512, "scaling_factor": 0.18215},
    "text_encoder": _CLIP_L,
    "scheduler": ("PNDMScheduler", {**_SCALED_LINEAR, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1}),
}

SDXL: dict[str, Any] = {
    "pipeline": "StableDiffusionXLPipeline",
    "resolution": 1024,
    "unet": {
        "sample_size": 128,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 2,
        "block_out_channels": (320, 640, 1280),
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "transformer_layers_per_block": (1, 2, 10),
        "attention_head_dim": (5, 10, 20),
        "cross_attention_dim": 2048,  # CLIP-L's 768 + bigG's 1280, concatenated
        "use_linear_projection": True,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 256,
        # 6 size/crop numbers × 256 + bigG's pooled 1280.
        "projection_class_embeddings_input_dim": 2816,
        "norm_num_groups": 32,
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
    },
    "vae": {**_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
    "text_encoder": _CLIP_L,
    "text_encoder_2": {  # OpenCLIP ViT-bigG/14's text tower, with its projection
        "vocab_size": 49408,
        "hidden_size": 1280,
        "intermediate_size": 5120,
        "num_hidden_layers": 32,
        "num_attention_heads": 20,
        "max_position_embeddings": 77,
        "hidden_act": "gelu",
        "projection_dim": 1280,
    },
    "scheduler": ("EulerDiscreteScheduler", {**_SCALED_LINEAR, "steps_offset": 1, "timestep_spacing": "leading"}),
}

_TINY_TEXT = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4, "projection_dim": 32}
_TINY_VAE = {"block_out_channels": (32, 32, 64, 64), "layers_per_block": 1}


def _tiny(full: dict[str, Any], unet: dict[str, Any], resolution: int) -> dict[str, Any]:
    tiny = {**full, "resolution": resolution, "unet": {**full["unet"], **unet}, "vae": {**full["vae"], **_TINY_VAE}}
    for encoder in ("text_encoder", "text_encoder_2"):
        if encoder in full:
            tiny[encoder] = {**full[encoder], **_TINY_TEXT}
    return tiny


ARCHITECTURES: dict[str, dict[str, Any]] = {
    "sd15": SD15,
    "sdxl": SDXL,
    "sd15-tiny": _tiny(
        SD15,
        {"block_out_channels": (32, 32, 64, 64), "layers_per_block": 1, "cross_attention_dim": 32, "sample_size": 16},
        128,
    ),
    "sdxl-tiny": _tiny(
        SDXL,
        {
            "block_out_channels": (32, 64, 64),
            "layers_per_block": 1,
            "transformer_layers_per_block": (1, 1, 2),
            "attention_head_dim": (2, 4, 4),
            "cross_attention_dim": 64,  # the two tiny encoders' 32 + 32
            "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 6 * 8 + 32,
            "sample_size": 16,
        },
        128,
    ),
}


def build_modules(name: str, *, device: str = "cpu") -> dict[str, Any]:
    """The architecture's modules with random weights (seeded), created on `device` directly
    (`meta` builds only the shapes: parameter counts without memory)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    arch = ARCHITECTURES[name]
    if device != "meta":
        torch.manual_seed(0)
    with torch.device(device):
        modules: dict[str, Any] = {
            "unet": UNet2DConditionModel(**arch["unet"]),
            "vae": AutoencoderKL(**arch["vae"]),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**arch["text_encoder"])),
        }
        if "text_encoder_2" in arch:
            modules["text_encoder_2"] = CLIPTextModelWithProjection(CLIPTextConfig(**arch["text_encoder_2"]))
    return modules


def build_pipeline(name: str, *, device: str, dtype: Any) -> Any:
    """A diffusers pipeline of the architecture, random weights, on `device` in `dtype`, with
    CLIP's real tokenizer (offline, training.tiny.clip_tokenizer)."""
    import diffusers

    from training.tiny import clip_tokenizer

    arch = ARCHITECTURES[name]
    modules = {key: module.to(dtype=dtype) for key, module in build_modules(name, device=device).items()}
    scheduler_class, scheduler_config = arch["scheduler"]
    scheduler = getattr(diffusers, scheduler_class)(**scheduler_config)
    pipeline_class = getattr(diffusers, arch["pipeline"])
    if "text_encoder_2" in modules:
        tokenizer_2 = clip_tokenizer()
        tokenizer_2.pad_token = "!"  # noqa: S105  (a token, not a password: OpenCLIP pads with token 0)
        pipeline = pipeline_class(
            **modules, tokenizer=clip_tokenizer(), tokenizer_2=tokenizer_2, scheduler=scheduler, add_watermarker=False
        )
    else:
        pipeline = pipeline_class(
            **modules,
            tokenizer=clip_tokenizer(),
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def parameter_count(module: Any) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def lora_train_steps(name: str, *, device: str, dtype: Any, steps: int = 5, rank: int = 4) -> dict[str, float]:
    """LoRA steps on the architecture's UNet at its resolution, as training/loop.py trains: frozen
    fp32 weights, a peft LoraConfig on the attention projections, mixed precision (autocast) on
    CUDA, VAE encoding and text encoding inside the step. Returns median s/step (after one
    warm-up step) and peak memory in GiB (CUDA only; 0 on the CPU)."""
    import statistics
    import time

    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from peft import LoraConfig

    from training.loop import LORA_TARGET_MODULES
    from training.tiny import clip_tokenizer

    arch = ARCHITECTURES[name]
    modules = build_modules(name, device=device)
    unet, vae, text_encoder = modules["unet"], modules["vae"], modules["text_encoder"]
    for module in modules.values():
        module.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=list(LORA_TARGET_MODULES)))
    trainable = [parameter for parameter in unet.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    scheduler = DDPMScheduler(**_SCALED_LINEAR)
    tokenizer = clip_tokenizer()
    input_ids = tokenizer(["a photo"], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    resolution = arch["resolution"]
    autocast = torch.autocast("cuda", dtype=dtype) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    unet.train()
    samples = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        pixels = torch.rand(1, 3, resolution, resolution, device=device) * 2 - 1
        with autocast:
            with torch.no_grad():
                latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
                hidden = text_encoder(input_ids.to(device))[0]
            extra = {}
            if "text_encoder_2" in modules:
                with torch.no_grad():
                    projected = modules["text_encoder_2"](input_ids.to(device), output_hidden_states=True)
                hidden = torch.cat([hidden, projected.hidden_states[-2]], dim=-1)
                sizes = torch.tensor([[resolution, resolution, 0, 0, resolution, resolution]], device=device)
                extra = {"added_cond_kwargs": {"text_embeds": projected.text_embeds, "time_ids": sizes}}
            noise = torch.randn_like(latents)
            timesteps = torch.randint(0, 1000, (1,), device=device)
            prediction = unet(scheduler.add_noise(latents, noise, timesteps), timesteps, hidden, **extra).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        samples.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    return {"s_per_step": statistics.median(samples[1:]), "peak_gib": peak, "loss": float(loss.detach())}
