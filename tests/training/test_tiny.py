"""The tiny base model: built from configs in code, saved with save_pretrained, loaded through
the real loading path, with a tokenizer identical to CLIP's."""

from __future__ import annotations

import pytest

from training.pipelines import load_base_pipeline
from training.tiny import build_tiny_base_model, clip_tokenizer
from training.weights import hash_files, scan_pipeline_directory


def test_two_builds_write_byte_identical_files(tiny_model_dir, tmp_path):
    again = build_tiny_base_model(tmp_path / "again")
    assert hash_files(again) == hash_files(tiny_model_dir)
    assert {entry["path"] for entry in hash_files(again)} >= {
        "model_index.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "scheduler/scheduler_config.json",
    }
    assert scan_pipeline_directory(again).pipeline_class == "StableDiffusionPipeline"


@pytest.mark.parametrize("text", ["a photo of a cat", "Hello, World! Éàü 123 it's", "", "   "])
def test_the_offline_tokenizer_gives_open_clips_ids(text):
    import open_clip.tokenizer

    ours = clip_tokenizer()(text).input_ids
    theirs = open_clip.tokenizer.SimpleTokenizer().encode(text)
    assert ours == [49406, *theirs, 49407]


def test_the_saved_pipeline_loads_and_generates_a_64_pixel_image(tiny_model_dir):
    import torch

    pipeline = load_base_pipeline(tiny_model_dir, "cpu")
    assert pipeline.tokenizer.model_max_length == 77
    assert pipeline.tokenizer("a cat").input_ids == [49406, 320, 2368, 49407]
    assert pipeline.scheduler.config.steps_offset == 1
    assert pipeline.unet.config.block_out_channels == [32, 64] and pipeline.unet.config.cross_attention_dim == 32
    first = pipeline("a cat", num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(3), output_type="np").images
    second = pipeline("a cat", num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(3), output_type="np").images
    assert first.shape == (1, 64, 64, 3)
    assert (first == second).all()
