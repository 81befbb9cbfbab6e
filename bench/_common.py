"""Helpers shared by the benchmarks: fresh databases, worker subprocesses, BENCH lines.

Each benchmark runs the platform in a subprocess per database with its own DATABASE_URL and
CLEANROOM_DATA_DIR (exactly how an operator points the platform at a fresh instance), and the
worker prints one JSON document on stdout.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def django_setup() -> None:
    """Inside a worker: configure Django from the environment the parent gave us."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def demo_trained_model(*, steps: int = 4):
    """Inside a worker (Django set up): the demo world, a snapshot approved by two reviewers and a
    LoRA trained on it for `steps` steps, all through the real services. Returns (the model
    artifact, the demo product user)."""
    from core.users import user_get
    from demo.load import DATASET_SLUG, demo_load
    from provenance.services.snapshots import snapshot_approve, snapshot_create
    from training.models import BaseModel, ModelArtifact
    from training.services import training_execute, training_request

    demo = demo_load(stderr=io.StringIO())
    engineer, product = user_get(username="demo-engineer"), user_get(username="demo-product")
    snapshot_id = str(snapshot_create(dataset_slug=DATASET_SLUG, actor=engineer).pk)
    for reviewer in ("demo-reviewer", "demo-reviewer-2"):
        snapshot_approve(snapshot_id=snapshot_id, reviewer=user_get(username=reviewer))
    base = BaseModel.objects.get(pk=demo["base_model"]["base_model_id"])
    run = training_request(snapshot_id=snapshot_id, base_model_id=base.pk, steps=steps, seed=1, actor=engineer)
    trained = training_execute(run_id=run.pk, task_id=run.task_id)
    if trained.status != "succeeded":
        raise SystemExit(f"the bench's LoRA training ended {trained.status}: {trained.error}")
    return ModelArtifact.objects.select_related("base_model", "snapshot").get(training_run=trained), product


def postgres_recreate(name: str) -> str:
    """Drop and create database `name`; return its URL."""
    import psycopg

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_URL}/{name}"


def postgres_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_worker(script: Path, args: list[str], *, database_url: str, data_dir: Path) -> dict:
    """Run `script --worker ARGS` with its own database and data folder; return its JSON."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CLEANROOM_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("CLEANROOM_DO_NOT_TRAIN_FILE", None)
    completed = subprocess.run(
        [sys.executable, str(script), "--worker", *args], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(f"{script.name} worker failed (exit {completed.returncode}) on {database_url}")
    return json.loads(completed.stdout)


@contextmanager
def maybe_profile(enabled: bool, label: str, top: int = 30):
    """cProfile the block when enabled; print the top entries (cumulative, then own time) on stderr."""
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        for sort in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
            sys.stderr.write(f"\n=== profile: {label}, by {sort} ===\n{out.getvalue()}")


def bench_line(name: str, value: float, unit: str, op: str, target: float) -> str:
    """`BENCH <name> <value> <unit> target <op> <value>`."""
    return f"BENCH {name} {value:.3f} {unit} target {op} {target:g}"


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        aligned = (
            cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        print("  ".join(aligned))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def write_bench_consent(path: Path, contributor: str, scopes: tuple[str, ...] = ("ai_training", "generative_training")) -> Path:
    """A consent file (the CLI contract's JSON) at `path`, with its evidence form beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "form.txt").write_text("bench consent form\n")
    document = {
        "contributor": contributor,
        "scopes": list(scopes),
        "terms_version": "bench-1",
        "granted_at": "2025-01-01",
        "expires_at": None,
        "evidence": "form.txt",
    }
    path.write_text(json.dumps(document))
    return path


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of `samples`."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


def time_get(client, url: str, requests: int) -> tuple[float, float]:
    """(p50, p95) in ms of `requests` GETs of `url` through Django's test `client`, after one
    to warm up (templates compiled, plans cached by PostgreSQL); any answer but 200 stops the run."""
    client.get(url)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    return percentiles(samples)
