"""A tiny Stable Diffusion pipeline, built from configs in code, for tests and the demo.

Its weights are random (seeded, so every build writes the same bytes); what matters is that it
has the real structure (UNet, VAE, CLIP text encoder and tokenizer, scheduler) and is saved with
`save_pretrained`, so it is registered, hashed, trained and loaded through the same path as a
real base model. Nothing is downloaded: the tokenizer's vocabulary and merges come from the BPE
file that open_clip ships in its wheel.

    python -c "from training.tiny import build_tiny_base_model; print(build_tiny_base_model('var/models/tiny-sd'))"
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

SEED = 0
RESOLUTION = 64  # pixels; the VAE halves it once, to the UNet's 32² latents
TOKENIZER_MAX_LENGTH = 77
START_TOKEN, END_TOKEN = "<|startoftext|>", "<|endoftext|>"
# CLIP's BPE: 256 byte symbols, their 256 word-final forms, 48,894 merges, then two specials.
BPE_MERGES = 49152 - 256 - 2


def build_tiny_base_model(directory: str | Path) -> Path:
    """Write the tiny pipeline into `directory` (created if needed) and return its path.

    Deterministic: the same library versions write byte-identical files, so two builds register
    with the same digest.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        sample_size=RESOLUTION // 2,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        layers_per_block=1,
        sample_size=RESOLUTION,
    )
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=TOKENIZER_MAX_LENGTH,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(target, safe_serialization=True)
    return target


def clip_tokenizer():
    """A `CLIPTokenizer` equal to CLIP's (ids identical to open_clip's), made offline."""
    from transformers import CLIPTokenizer

    vocab, merges = _clip_vocabulary()
    return CLIPTokenizer(
        vocab=dict(vocab),
        merges=[tuple(merge.split()) for merge in merges],
        model_max_length=TOKENIZER_MAX_LENGTH,
        bos_token=START_TOKEN,
        eos_token=END_TOKEN,
        pad_token=END_TOKEN,
        unk_token=END_TOKEN,
    )


def _bpe_path() -> Path:
    # Found without importing open_clip (which would load torch and torchvision for one file).
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("open_clip is not installed: its BPE vocabulary builds the tokenizer")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters, in CLIP's order (the
    printable bytes first, then the rest mapped to 256, 257, ...): the order fixes the ids."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    for extra, byte in enumerate(b for b in range(256) if b not in mapping):
        mapping[byte] = chr(256 + extra)
    return mapping


@lru_cache(maxsize=1)
def _clip_vocabulary() -> tuple[dict[str, int], list[str]]:
    with gzip.open(_bpe_path(), "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")[1 : BPE_MERGES + 1]
    merges = [line for line in lines if line]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(merge.split()) for merge in merges]
    tokens += [START_TOKEN, END_TOKEN]
    return {token: index for index, token in enumerate(tokens)}, merges
