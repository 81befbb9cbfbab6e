"""Builders for generation tests, all through the services (a job is a governance write with
its audit event): `requested_job` queues a job without running it (no worker needed),
`released` runs one in-process with the same service the `gpu` worker calls, and
`verification_of` asks the verify service about some bytes. Plus the images and the
parameters that keep the tiny model fast on a CPU, and where files lie (`blob_files`,
`files_holding`). No DjangoModelFactory here."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image
from skimage import data as samples

from generation.models import GenerationBatch, GenerationJob, Output, Verification
from generation.services.batches import generation_batch_request
from generation.services.execution import job_run
from generation.services.requests import generation_request
from generation.services.verification import verification_request

# Small enough for the CPU, large enough for the watermark (rivaGan needs 256²).
SIZE = 256
FAST = {"steps": 2, "guidance": 1.0}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def astronaut(size: int = SIZE) -> Image.Image:
    return Image.fromarray(samples.astronaut()).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def corner_mask(size: int = SIZE, box: tuple[int, int, int, int] = (0, 224, 32, 256)) -> Image.Image:
    """White (repaint) in a small bottom-left corner, black (keep) elsewhere. The tiny model paints
    pixel noise there; kept small, so that the released image is mostly photo and carries the
    watermark (a larger noisy patch in one half of the frame made some ids unreadable)."""
    mask = np.zeros((size, size), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask, mode="L")


def requested_job(model, actor, *, kind: str = "inpaint", seed: int = 5, prompt: str = "a small red kite") -> GenerationJob:
    """A queued job on `model`, requested by `actor` (a product team) through the service."""
    extra = {"image": png(astronaut()), "mask": png(corner_mask())} if kind == "inpaint" else {}
    parameters = {"prompt": prompt, **FAST}
    if kind == "text_to_image":
        parameters.update(width=SIZE, height=SIZE)
    return generation_request(model_id=model.pk, kind=kind, parameters=parameters, seed=seed, actor=actor, **extra)


def requested_batch(
    model, actor, *, prompts: tuple[str, ...] = ("a red apple", "a green pear"), seed: int = 10
) -> GenerationBatch:
    """A queued text-to-image batch on `model`, requested by `actor` (a product team) through the service."""
    parameters = {"width": SIZE, "height": SIZE, **FAST}
    return generation_batch_request(model_id=model.pk, prompts=list(prompts), parameters=parameters, seed=seed, actor=actor)


def released(world, actor, *, kind: str = "inpaint", seed: int = 5) -> tuple[Output, bytes]:
    """An output of an inpainted photo (textured enough to carry the watermark) of `world.model`,
    run in-process; returns the output and its signed bytes."""
    from core.storage import blob_open

    job = requested_job(world.model, actor, kind=kind, seed=seed)
    job_run(job_id=str(job.pk), task_id=job.task_id)
    output = Output.objects.select_related("job").get(job=job)
    assert output.released, output.job.error
    with blob_open(output.sha256) as handle:
        return output, handle.read()


def verification_of(data: bytes, actor=None) -> Verification:
    """What the verify service records for `data`: settled at once when its own manifest says
    so, queued for a CPU worker otherwise (nothing runs it here)."""
    return verification_request(data=data, actor=actor)


def blob_files() -> set[str]:
    """The names of the files in the blob store (the test's own folder, see the root conftest)."""
    folder = Path(settings.STORAGES["blobs"]["OPTIONS"]["location"])
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def files_holding(folder: Path, data: bytes) -> list[Path]:
    """Every file under `folder` (links not followed) whose bytes are exactly `data`."""
    digest = hashlib.sha256(data).hexdigest()
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data)
        and hashlib.sha256(path.read_bytes()).hexdigest() == digest
    ]  # fmt: skip


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (type, body), in order: surgery that keeps the manifest chunk (`caBX`),
    which a Pillow re-save would drop."""
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)
    return b"\x89PNG\r\n\x1a\n" + body


def tampered_png(data: bytes) -> bytes:
    """A signed PNG with some pixels changed and its manifest chunk kept: the manifest's data
    hash no longer matches."""
    chunks = png_chunks(data)
    raw = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    for offset in range(1000, 1400):  # inside the scanlines' pixel bytes
        raw[offset] ^= 0x40
    rebuilt, placed = [], False
    for kind, body in chunks:
        if kind != b"IDAT":
            rebuilt.append((kind, body))
        elif not placed:
            rebuilt.append((b"IDAT", zlib.compress(bytes(raw))))
            placed = True
    return png_from_chunks(rebuilt)


def png_with_changed_assertion(data: bytes, old: str, new: str) -> bytes:
    """A signed PNG whose manifest says `new` where it said `old` (its hashes no longer hold)."""
    chunks = [(k, d.replace(old.encode(), new.encode()) if k == b"caBX" else d) for k, d in png_chunks(data)]
    assert any(k == b"caBX" and new.encode() in d for k, d in chunks)
    return png_from_chunks(chunks)
