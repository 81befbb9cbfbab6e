"""The web process serves the training API and the commands' modules without loading torch,
diffusers or peft: those belong to the `gpu` workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "diffusers", "peft", "accelerate", "transformers", "safetensors", "open_clip"]


def test_the_training_api_tasks_and_commands_load_no_heavy_ml_library(tmp_path):
    script = (
        "import sys, json\n"
        "from config.wsgi import application\n"
        "import django.urls\n"
        "django.urls.resolve('/api/v1/training-runs/'); django.urls.resolve('/api/v1/base-models/')\n"
        "import training.tasks, training.pipelines, training.services, training.api.views\n"
        "import training.management.commands.train, training.management.commands.basemodel\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.base")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
