"""The web process asks auditors for their versions (API ingest queues audits) but must never
load the heavy detector libraries: those belong in the workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["presidio_analyzer", "spacy", "onnxruntime", "cv2", "faiss", "torch", "skimage", "pytesseract"]


def test_the_web_application_and_the_auditor_versions_load_no_heavy_ml_library(tmp_path):
    script = (
        "import sys, json\n"
        "from config.wsgi import application\n"
        "import django.urls; django.urls.resolve('/api/v1/ingest/')\n"
        "from auditing.registry import current_versions\n"
        "versions = current_versions()\n"
        f"print(json.dumps({{'versions': versions, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.base")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["versions"]) == {"synthetic", "pii", "nsfw", "near_duplicate"}
    assert report["heavy"] == []
