"""What every fault-injection scenario (tests/reliability, bench/reliability.py) checks at its end.

Lost and duplicated audit events, precisely: each unit of work that ended writes its own events
(an ingested asset one `asset.ingested`; a finished auditor run one `audit.run_finished`; a
training run or generation job one `*.status_changed` event per transition it made), so
- lost: a unit in a final state whose event is missing;
- duplicated: two events for the same unit and step (the same asset ingested twice, the same
  auditor finishing twice on one asset, the same transition recorded twice);
and the hash chain (`auditlog verify`) must read valid, every sequence number once, none missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EventCount:
    lost: int
    duplicated: int
    chain_valid: bool
    events: int

    def summary(self) -> str:
        return f"{self.events} events, {self.lost} lost, {self.duplicated} duplicated, chain valid: {self.chain_valid}"


def count_events(expected: Iterable[tuple], recorded: Iterable[tuple], *, chain_valid: bool, events: int) -> EventCount:
    """`expected` and `recorded` are keys of one unit's step each (e.g. (event type, asset id,
    auditor)); a key expected but not recorded is lost, one recorded more than once duplicated."""
    seen = Counter(recorded)
    wanted = set(expected)
    return EventCount(
        lost=len(wanted - set(seen)),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        chain_valid=chain_valid,
        events=events,
    )


def command_environment(*, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of `manage.py` run against a private server and data folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_"))
    }
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings.base", CLEANROOM_DATA_DIR=str(data_dir),
               HF_HUB_OFFLINE="1", **extra)  # fmt: skip
    return env


def manage_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def run_json(env: dict[str, str], *args: str, timeout: float = 300) -> dict:
    """Run `manage.py ARGS --json` to its end; its JSON document (the exit code under `_rc`)."""
    done = subprocess.run(manage_command(*args, "--json"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        problem = f"{args[0]} printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
        raise AssertionError(problem) from None
    return {**document, "_rc": done.returncode, "_stderr": done.stderr}
