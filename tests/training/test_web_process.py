"""The web process serves the training API and the commands' modules without loading torch,
diffusers or peft: those belong to the `gpu` workers."""

from __future__ import annotations

from tests.web_process import web_process_report

HEAVY = ["torch", "diffusers", "peft", "accelerate", "transformers", "safetensors", "open_clip"]


def test_the_training_api_tasks_and_commands_load_no_heavy_ml_library(tmp_path):
    heavy, _ = web_process_report(
        "django.urls.resolve('/api/v1/training-runs/'); django.urls.resolve('/api/v1/base-models/')\n"
        "import training.tasks, training.pipelines, training.services, training.api.views\n"
        "import training.management.commands.train, training.management.commands.basemodel",
        heavy=HEAVY,
        data_dir=tmp_path,
    )
    assert heavy == []
