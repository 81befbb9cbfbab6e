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
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

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


def chain_contiguous() -> bool:
    """Every sequence number from the first to the last, once (a unique index forbids twice)."""
    from core.models import AuditEvent

    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    return not seqs or seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def audit_events(asset_ids: list[str], auditors: list[str]) -> EventCount:
    """One `audit.run_finished` per asset and auditor, and one finding at most per asset, auditor
    and code (a run repeated after its worker died must not record its findings twice)."""
    from auditing.models import Finding
    from core.audit import auditlog_verify
    from core.models import AuditEvent, EventType

    finished = AuditEvent.objects.filter(event_type=EventType.AUDIT_RUN_FINISHED, subject_id__in=asset_ids)
    recorded = [(e.subject_id, e.details["auditor"]) for e in finished]
    findings = Counter(Finding.objects.filter(asset_id__in=asset_ids).values_list("asset_id", "auditor", "code"))
    expected = [(a, auditor) for a in asset_ids for auditor in auditors]
    chain_valid = auditlog_verify().valid and chain_contiguous()
    counted = count_events(expected, recorded, chain_valid=chain_valid, events=AuditEvent.objects.count())
    twice = sum(n - 1 for n in findings.values())
    return EventCount(counted.lost, counted.duplicated + twice, counted.chain_valid, counted.events)


def transition_events(event_type: str, subject_id: str) -> EventCount:
    """A training run's or generation job's transitions, each recorded once and in order:
    every event's `from` is the previous event's `to` (a lost one breaks the walk, a twice-recorded
    one repeats a step)."""
    from core.audit import auditlog_verify
    from core.models import AuditEvent

    steps = [(e.details.get("from"), e.details["to"]) for e in AuditEvent.objects.filter(
        event_type=event_type, subject_id=subject_id).order_by("seq")]  # fmt: skip
    lost = sum(1 for before, after in pairwise(steps) if after[0] is not None and after[0] != before[1])
    return EventCount(lost=lost, duplicated=len(steps) - len(set(steps)),
                      chain_valid=auditlog_verify().valid and chain_contiguous(), events=AuditEvent.objects.count())  # fmt: skip


def report(fault: str, *, recovery_seconds: float, bound: float, counted: EventCount, **extra: float) -> None:
    """Record one scenario's figures for bench/reliability.py (a JSON line appended to the file
    RELIABILITY_REPORT_FILE names; nothing when unset, as in the ordinary suite)."""
    path = os.environ.get("RELIABILITY_REPORT_FILE")
    if not path:
        return
    record = {"fault": fault, "recovery_seconds": round(recovery_seconds, 2), "bound": bound, "lost": counted.lost,
              "duplicated": counted.duplicated, "chain_valid": counted.chain_valid, **extra}  # fmt: skip
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


def write_batch(folder: Path, count: int) -> Path:
    """`count` noise JPEGs, 512² (~250 kB each): large enough that the batch takes a few seconds."""
    folder.mkdir()
    for i in range(count):
        pixels = np.random.default_rng(i).integers(0, 255, (512, 512, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo-{i:03}.jpg", quality=90)
    return folder


def write_ingest_consent(folder: Path) -> Path:
    folder.mkdir()
    (folder / "evidence.pdf").write_bytes(b"%PDF-1.4 signed consent form")
    document = {"contributor": "carla@example.com", "scopes": ["ai_training"], "terms_version": "2026-01",
                "granted_at": "2026-01-01T00:00:00Z", "expires_at": None, "evidence": "evidence.pdf"}  # fmt: skip
    (folder / "consent.json").write_text(json.dumps(document))
    return folder / "consent.json"
