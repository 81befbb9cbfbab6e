#!/usr/bin/env python
"""Peak memory (RSS) of the web process and of the audit worker, for the inputs that once cost
the most: large uploads, and images small on disk but huge once decoded.

Each figure comes from a fresh process with its own SQLite database and data folder, set up the
way an operator points the platform at a new instance. The process sets itself up and warms up
(imports, caches and models: one small upload, or one small audit), takes its resident memory
as the baseline, resets its peak (`/proc/self/clear_refs`), handles the input, and reports its
peak resident memory above the baseline.

Web process: the request goes through the whole Django stack (middleware, the multipart parser,
the upload handler, the API view, ingest), its body read from a file on disk, as a server reads
it from a socket:
- `web_upload_200mb`: one 200 MB file (a 256×256 JPEG followed by 200 MB of other bytes: a JPEG
  ends at its end marker, so the file is accepted, and so hashed, scanned and stored in full);
- `web_upload_3x200mb`: three of them in one request;
- `web_png_10000_rgba`: the 389 kB PNG of 10000×10000 RGBA (400 MB decoded; refused);
- `web_png_largest_accepted`: a 10000×10000 RGB PNG, the largest the default decoded-bytes budget
  accepts (300,000,000 bytes): it is decoded, so its pixels are held.
Target: peak above baseline < 2 × the largest chunk the path holds for that input: for a file
that streams, the larger of the read chunk and an archive member's in-memory spool (1 MiB each;
Django's upload chunks are 64 KiB); for an image that is decoded, its pixels as Pillow holds them
(4 bytes per RGB pixel).

Audit worker (every configured auditor, the image read from the blob store):
- `worker_png_largest_accepted`: the 10000×10000 RGB PNG;
- `worker_png_10000_rgba`: the 10000×10000 RGBA PNG, ingested under a larger budget (as an asset
  stored before the budget existed would be);
- `worker_jpeg_10000x7500`: a 75-megapixel JPEG.
Target: peak above baseline < 1 GB (the absolute peak is printed beside it).

Run: `.venv/bin/python bench/memory.py [--only web|worker] [--keep DIR]`. Needs ~3 GB of disk.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
import tempfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, django_setup, print_table, run_worker, write_bench_consent

MB = 1_000_000
MiB = 1024 * 1024
CONTRIBUTOR = "bench@example.org"
UPLOAD_BYTES = 200 * MB
BOUNDARY = "cleanroom-bench-boundary"
WORKER_TARGET = 1_000 * MB
STREAM_CHUNK = 1 * MiB  # provenance.ingest.sources: _READ_CHUNK and SPOOL_MEMORY_BYTES

WEB = ["web_upload_200mb", "web_upload_3x200mb", "web_png_10000_rgba", "web_png_largest_accepted"]
WORKER = ["worker_png_largest_accepted", "worker_png_10000_rgba", "worker_jpeg_10000x7500"]


# --- memory of this process ------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"/proc/self/status has no {field}: this benchmark needs Linux")
    return int(match.group(1))


def rss() -> int:
    return _status_kib("VmRSS") * 1024


def reset_peak() -> None:
    """Make the peak (VmHWM) the current RSS (Linux ≥ 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak() -> int:
    return _status_kib("VmHWM") * 1024


# --- inputs ----------------------------------------------------------------------------------------


def pillow_bytes_per_pixel(mode: str) -> int:
    """What Pillow holds per pixel (RGB is stored as 4 bytes)."""
    return 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4


def small_jpeg(seed: int, size: int = 256) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def large_jpeg(path: Path, width: int, height: int) -> None:
    """A photo-like JPEG (gradients and texture) written without holding float arrays."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(5)
    x = np.linspace(0, 255, width, dtype=np.float32)
    rows = []
    for top in range(0, height, 500):
        band = min(500, height - top)
        y = np.linspace(top, top + band, band, dtype=np.float32)[:, None] / height * 255
        base = (x[None, :] * 0.5 + y * 0.5).astype(np.uint8)
        noise = rng.integers(0, 40, (band, width), dtype=np.uint8)
        rows.append(np.dstack([base, base // 2 + noise, 255 - base]))
    Image.fromarray(np.concatenate(rows)).save(path, "JPEG", quality=85)


def padded_jpeg_chunks(seed: int, total: int):
    """A 256×256 JPEG followed by random bytes up to `total` bytes, in 1 MiB pieces."""
    import numpy as np

    picture = small_jpeg(seed)
    yield picture
    rng = np.random.default_rng(seed)
    left = total - len(picture)
    while left > 0:
        piece = rng.bytes(min(MiB, left))
        left -= len(piece)
        yield piece


def write_body(path: Path, fields: dict[str, str], files: list[tuple[str, object]]) -> tuple[int, str]:
    """A multipart/form-data body on disk; `files` are (file name, iterable of byte chunks)."""
    with path.open("wb") as body:
        for name, value in fields.items():
            body.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for file_name, chunks in files:
            body.write(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{file_name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n".encode()
            )
            for chunk in chunks:
                body.write(chunk)
            body.write(b"\r\n")
        body.write(f"--{BOUNDARY}--\r\n".encode())
    return path.stat().st_size, f"multipart/form-data; boundary={BOUNDARY}"


def blank_png(width: int, height: int, mode: str) -> bytes:
    """A PNG of black pixels written chunk by chunk, never holding its pixels (as the tests' own
    `tests.provenance.factories.blank_png`): 10000×10000 RGBA is 389 kB of file."""
    channels, colour_type = {"RGB": (3, 2), "RGBA": (4, 6)}[mode]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + width * channels)
    compressor = zlib.compressobj(9)
    step = max(1, (8 * MiB) // len(row))
    idat = b"".join(compressor.compress(row * min(step, height - top)) for top in range(0, height, step)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_inputs(root: Path) -> dict[str, Path]:
    inputs = root / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = {
        "rgba": inputs / "rgba-10000.png",
        "rgb": inputs / "rgb-10000.png",
        "jpeg": inputs / "photo-10000x7500.jpg",
    }
    paths["rgba"].write_bytes(blank_png(10000, 10000, "RGBA"))
    paths["rgb"].write_bytes(blank_png(10000, 10000, "RGB"))
    large_jpeg(paths["jpeg"], 10000, 7500)
    return paths


# --- the world every process shares --------------------------------------------------------------


def world() -> tuple[object, str, Path]:
    """The operator, the consent's id and its file (created by the first process, found after)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from core.roles import Role
    from core.users import user_add
    from provenance.models import ConsentRecord, Contributor, Dataset
    from provenance.services.consent import consent_grant, read_consent_file
    from provenance.services.contributors import contributor_add
    from provenance.services.datasets import dataset_create, dataset_enrol

    consent_path = Path(settings.DATA_DIR) / "bench-consent" / "consent.json"
    operator = get_user_model().objects.filter(username="bench-operator").first()
    if operator is None:
        operator = user_add(username="bench-operator", role=Role.OPERATOR)
        contributor = contributor_add(email=CONTRIBUTOR, name="Bench Contributor")
        dataset = dataset_create(slug="bench", scopes=["ai_training", "generative_training"])
        dataset_enrol(dataset=dataset, contributor=contributor, actor=operator)
        write_bench_consent(consent_path, CONTRIBUTOR)
        document, open_evidence = read_consent_file(str(consent_path))
        consent_grant(document=document, contributor=Contributor.objects.get(email=CONTRIBUTOR), open_evidence=open_evidence)
    assert Dataset.objects.filter(slug="bench").exists()
    consent = ConsentRecord.objects.get()
    return operator, str(consent.pk), consent_path


# --- the web process -------------------------------------------------------------------------------


def _post(client, body_path: Path, size: int, content_type: str) -> dict:
    with body_path.open("rb") as body:
        response = client.generic(
            "POST", "/api/v1/ingest/", b"", CONTENT_TYPE=content_type, CONTENT_LENGTH=str(size), **{"wsgi.input": body}
        )
    if response.status_code != 200:
        raise SystemExit(f"upload answered {response.status_code}: {response.content[:300]!r}")
    result = response.json()
    return {"accepted": len(result["accepted"]), "refused": [r["reason"] for r in result["refused"]]}


def web(scenario: str, root: Path, inputs: dict[str, str]) -> dict:
    os.environ["CLEANROOM_ALLOWED_HOSTS"] = "testserver"
    django_setup()
    from django.test import Client

    operator, consent_id, _ = world()
    client = Client()
    client.force_login(operator)
    fields = {"dataset": "bench", "consent_id": consent_id}
    seed = WEB.index(scenario)

    warm = root / f"warm-{scenario}.body"
    size, content_type = write_body(warm, fields, [("warm.jpg", [small_jpeg(1000 + seed)])])
    _post(client, warm, size, content_type)

    body = root / f"{scenario}.body"
    if scenario == "web_upload_200mb":
        files = [("large.jpg", padded_jpeg_chunks(seed * 10, UPLOAD_BYTES))]
        chunk = STREAM_CHUNK
    elif scenario == "web_upload_3x200mb":
        files = [(f"large-{i}.jpg", padded_jpeg_chunks(seed * 10 + i, UPLOAD_BYTES)) for i in range(3)]
        chunk = STREAM_CHUNK
    elif scenario == "web_png_10000_rgba":
        files = [("huge.png", [Path(inputs["rgba"]).read_bytes()])]
        chunk = STREAM_CHUNK  # refused from its header: nothing is decoded
    else:
        files = [("largest.png", [Path(inputs["rgb"]).read_bytes()])]
        chunk = 10000 * 10000 * pillow_bytes_per_pixel("RGB")
    size, content_type = write_body(body, fields, files)
    del files

    import gc

    gc.collect()
    baseline = rss()
    reset_peak()
    outcome = _post(client, body, size, content_type)
    top = peak()
    body.unlink()
    return {"scenario": scenario, "baseline": baseline, "peak": top, "chunk": chunk, "request_bytes": size, **outcome}


# --- the audit worker ------------------------------------------------------------------------------


def prepare_audit(scenario: str, inputs: dict[str, str]) -> dict:
    """Ingest the warm-up image and the scenario's image (under a larger budget where the
    scenario says so); return their asset ids."""
    if scenario == "worker_png_10000_rgba":
        os.environ["CLEANROOM_MAX_DECODED_BYTES"] = str(400 * MB)
    django_setup()
    from provenance.services.ingest import ingest_paths

    operator, _, consent_path = world()
    source = {
        "worker_png_largest_accepted": inputs["rgb"],
        "worker_png_10000_rgba": inputs["rgba"],
        "worker_jpeg_10000x7500": inputs["jpeg"],
    }[scenario]
    warm = Path(inputs["rgb"]).parent / f"warm-{scenario}.jpg"
    warm.write_bytes(small_jpeg(2000 + WORKER.index(scenario), size=512))
    ids = []
    for path in (warm, Path(source)):
        batch = ingest_paths(
            paths=[str(path)], dataset_slug="bench", contributor_email=CONTRIBUTOR, consent_path=str(consent_path), actor=operator
        )
        refused = list(batch.refused_items.values_list("reason", "detail"))
        if refused:
            raise SystemExit(f"{path.name} was refused: {refused}")
        ids.append(str(batch.items.get().asset_id))
    return {"warm": ids[0], "target": ids[1]}


def audit(asset_ids: list[str]) -> dict:
    django_setup()
    from django.conf import settings
    from django.db import transaction

    from auditing.models import AuditRun
    from auditing.services import asset_audit_run, audits_request
    from provenance.models import Asset

    def run(asset_id: str) -> list:
        with transaction.atomic():
            audits_request(asset_ids=[asset_id])
        asset_audit_run(asset_id=asset_id, task_id=f"bench-{asset_id}")
        return sorted(AuditRun.objects.filter(asset_id=asset_id).values_list("auditor", "status"))

    run(asset_ids[0])  # loads every auditor's models

    import gc

    gc.collect()
    baseline = rss()
    reset_peak()
    runs = run(asset_ids[1])
    top = peak()
    asset = Asset.objects.get(pk=asset_ids[1])
    failed = [auditor for auditor, status in runs if status != "done"]
    if failed:
        errors = dict(AuditRun.objects.filter(asset_id=asset_ids[1]).values_list("auditor", "error"))
        raise SystemExit(f"auditors failed: {errors}")
    return {
        "baseline": baseline,
        "peak": top,
        "auditors": [auditor for auditor, _ in runs],
        "configured": list(settings.CLEANROOM_AUDITORS),
        "image": f"{asset.width}×{asset.height} {asset.format}",
    }


# --- main ------------------------------------------------------------------------------------------


def _bench_env() -> None:
    os.environ["CLEANROOM_AUDIT_ON_INGEST"] = "false"  # the worker scenarios run audits themselves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["web", "worker"])
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--assets", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _bench_env()

    if args.worker:
        inputs = json.loads(args.inputs or "{}")
        if args.role == "web":
            result = web(args.scenario, Path(args.root), inputs)
        elif args.role == "prepare":
            result = prepare_audit(args.scenario, inputs)
        else:
            result = audit(args.assets.split(","))
        print(json.dumps(result))
        return 0

    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        return run(Path(args.keep), args.only)
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-memory-") as temporary:
        return run(Path(temporary), args.only)


def run(root: Path, only: str | None) -> int:
    paths = make_inputs(root)
    inputs = json.dumps({key: str(path) for key, path in paths.items()})
    print(
        "inputs: " + ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in paths.values()),
        file=sys.stderr,
    )
    rows, lines = [], []
    script = Path(__file__)

    def child(name: str, extra: list[str]) -> dict:
        data_dir = root / f"data-{name}"
        url = f"sqlite:///{data_dir / 'cleanroom.sqlite3'}"
        arguments = ["--scenario", name, "--inputs", inputs, "--root", str(root), *extra]
        return run_worker(script, arguments, database_url=url, data_dir=data_dir)

    if only in (None, "web"):
        for scenario in WEB:
            result = child(scenario, ["--role", "web"])
            above = result["peak"] - result["baseline"]
            target = 2 * result["chunk"]
            rows.append(
                [
                    scenario,
                    f"{result['request_bytes'] / MB:.1f}",
                    f"{result['accepted']} accepted, refused {result['refused'] or '-'}",
                    f"{result['baseline'] / MB:.0f}",
                    f"{result['peak'] / MB:.0f}",
                    f"{above / MB:.1f}",
                    f"< {target / MB:.1f}",
                ]
            )
            lines.append(bench_line(f"memory_{scenario}", above / MB, "MB", "<", round(target / MB, 1)))
            print(f"{scenario}: {above / MB:.1f} MB above a {result['baseline'] / MB:.0f} MB baseline", file=sys.stderr)
    if only in (None, "worker"):
        for scenario in WORKER:
            assets = child(scenario, ["--role", "prepare"])
            result = child(scenario, ["--role", "audit", "--assets", f"{assets['warm']},{assets['target']}"])
            above = result["peak"] - result["baseline"]
            rows.append(
                [
                    scenario,
                    result["image"],
                    ", ".join(result["auditors"]),
                    f"{result['baseline'] / MB:.0f}",
                    f"{result['peak'] / MB:.0f}",
                    f"{above / MB:.1f}",
                    f"< {WORKER_TARGET / MB:.0f}",
                ]
            )
            lines.append(bench_line(f"memory_{scenario}", above / MB, "MB", "<", WORKER_TARGET / MB))
            print(f"{scenario}: {above / MB:.1f} MB above a {result['baseline'] / MB:.0f} MB baseline", file=sys.stderr)

    print()
    print_table(["input", "size / image", "outcome / auditors", "baseline MB", "peak MB", "above MB", "target MB"], rows)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
