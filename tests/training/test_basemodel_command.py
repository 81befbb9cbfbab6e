"""`basemodel add` in-process through call_command: a directory whose JSON files are nested
without end is refused (or read as saying nothing) with JSON on stdout, never a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from training.models import BaseModel

pytestmark = pytest.mark.django_db
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
DEEP = "[" * 200_000 + "]" * 200_000


def basemodel(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("basemodel", *args, "--json", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def pipeline_dir(root: Path) -> Path:
    """The shape of a diffusers pipeline folder, with placeholder files (nothing loads them)."""
    index = {"_class_name": "StableDiffusionPipeline", **{name: ["diffusers", "Placeholder"] for name in COMPONENTS}}
    root.mkdir()
    (root / "model_index.json").write_text(json.dumps(index))
    for name in COMPONENTS:
        (root / name).mkdir()
        (root / name / "config.json").write_text("{}")
    return root


def test_a_deeply_nested_model_index_is_refused_with_a_json_error(tmp_path) -> None:
    directory = pipeline_dir(tmp_path / "deep-index")
    (directory / "model_index.json").write_text(DEEP)

    code, document = basemodel("add", str(directory), "--name", "deep", "--licence", "MIT")

    assert code == 1 and document["code"] == "not_a_pipeline" and "nest" in document["error"]
    assert not BaseModel.objects.exists()


def test_a_deeply_nested_component_config_says_nothing_about_the_native_size(tmp_path) -> None:
    directory = pipeline_dir(tmp_path / "deep-config")
    (directory / "unet" / "config.json").write_text(DEEP)

    code, document = basemodel("add", str(directory), "--name", "deep", "--licence", "MIT")

    assert code == 0 and document["native_size"] is None
