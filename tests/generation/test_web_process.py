"""The web process serves the generation API but must never load the ML stack: generation runs
in the `gpu` workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "diffusers", "transformers", "onnxruntime", "cv2", "faiss", "imwatermark"]


def test_the_generation_api_loads_no_heavy_library(tmp_path):
    script = (
        "import sys, json\n"
        "from config.wsgi import application\n"
        "import django.urls\n"
        "for url in ('/api/v1/generation/jobs/', '/api/v1/generation/outputs/00000000-0000-0000-0000-000000000000/download/'):\n"
        "    django.urls.resolve(url)\n"
        "import generation.api.views, generation.tasks, generation.selectors\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.base")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
