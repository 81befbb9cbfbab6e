"""Run code in a fresh interpreter set up like the web process, and say which heavy modules it loaded.

The web process must never import the workers' ML stack; each app's test names what to exercise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def web_process_report(body: str, *, heavy: list[str], data_dir: Path, report: str = "None") -> tuple[list[str], object]:
    """Run `config.wsgi` then `body`; return (the `heavy` modules now loaded, the value of `report`)."""
    script = (
        "import sys, json\n"
        "from config.wsgi import application\n"
        "import django.urls\n"
        f"{body}\n"
        f"print(json.dumps({{'report': {report}, 'heavy': [m for m in {heavy!r} if m in sys.modules]}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(CLEANROOM_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings.base")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["heavy"], result["report"]
