from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from django.core.management.base import CommandError

from core.exceptions import MISCONFIGURED, ApplicationError
from core.management.base import MISCONFIGURED_EXIT, CheckFailed, JsonCommand
from core.users import user_get
from generation.api.serializers import JobSerializer, OutputSerializer
from generation.models import JOB_FINAL, GenerationJob, JobKind, JobStatus
from generation.selectors import job_get, job_output, output_file
from generation.services.requests import generation_cancel, generation_request

PARAMETERS = ("prompt", "negative_prompt", "steps", "guidance", "strength", "width", "height", "scale")


class Command(JsonCommand):
    help = (
        "Generate an image with a trained model on the `gpu` queue and write the signed PNG: "
        "`generate --model ID --prompt TEXT --output FILE [--seed N]` (waits for the worker). "
        "FILE must not exist (--force replaces it); it is written atomically, and only for a released output. "
        "`generate --show JOB_ID`, `generate --cancel JOB_ID`."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--model", metavar="ID", help="the trained model (ModelArtifact) to generate with")
        mode.add_argument("--show", metavar="JOB_ID", help="print a job's status")
        mode.add_argument("--cancel", metavar="JOB_ID", help="cancel a queued or running job")
        parser.add_argument("--output", metavar="FILE", help="where to write the signed PNG (with --model)")
        parser.add_argument("--kind", default=JobKind.TEXT_TO_IMAGE, choices=JobKind.values)
        parser.add_argument("--prompt", metavar="TEXT")
        parser.add_argument("--negative-prompt", dest="negative_prompt", metavar="TEXT")
        parser.add_argument("--seed", type=int, help="random seed (default: a random one, recorded on the job)")
        parser.add_argument("--steps", type=int, help="denoising steps (default CLEANROOM_GENERATION_DEFAULT_STEPS)")
        parser.add_argument("--guidance", type=float, help="classifier-free guidance scale (default 7.5)")
        parser.add_argument("--width", type=int, help="text_to_image: a multiple of 8 (default: the model's native size)")
        parser.add_argument("--height", type=int, help="text_to_image: a multiple of 8 (default: the model's native size)")
        parser.add_argument("--image", metavar="FILE", help="the input image (image_to_image, inpaint, upscale)")
        parser.add_argument("--mask", metavar="FILE", help="inpaint: white where the image is to be repainted")
        parser.add_argument("--strength", type=float, help="how much of the input to change, (0, 1]")
        parser.add_argument("--scale", type=int, help="upscale: 2, 3 or 4")
        parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", help="the requesting user (default: the operator)")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the worker at most")

    def run(self, **options):
        actor = user_get(username=options["as_user"]) if options.get("as_user") else None
        if options["show"]:
            return JobSerializer(job_get(job_id=options["show"], anyone=True)).data
        if options["cancel"]:
            job = job_get(job_id=options["cancel"], anyone=True)
            return JobSerializer(generation_cancel(job_id=job.pk, actor=actor)).data
        if not options["output"]:
            raise CommandError("--model needs --output FILE", returncode=2)
        target = _target(Path(options["output"]), force=options["force"])
        job = generation_request(
            model_id=options["model"],
            kind=options["kind"],
            parameters={name: options[name] for name in PARAMETERS if options.get(name) is not None},
            seed=options["seed"],
            image=_read(options["image"], "input image"),
            mask=_read(options["mask"], "mask"),
            actor=actor,
        )
        job = _wait(job, options["timeout"])
        output = job_output(job)
        summary = {
            "job_id": str(job.pk),
            "output_id": str(output.pk) if output is not None else None,
            "path": None,
            "sha256": None,
            "status": job.status,
            "seed": job.seed,
            "model_id": str(job.model_id),
            "stage_ms": job.stage_ms,
            "warnings": job.warnings,
        }
        if job.status != JobStatus.SUCCEEDED:
            code = {JobStatus.WITHHELD: "output_withheld", JobStatus.CANCELLED: "generation_cancelled"}.get(
                job.status, "generation_failed"
            )
            returncode = 1
            if job.error.startswith(f"{MISCONFIGURED}:"):
                # The worker's configuration, not this request, is at fault: as for any command.
                code, returncode = MISCONFIGURED, MISCONFIGURED_EXIT
            raise CheckFailed(
                {**summary, "code": code, "job": JobSerializer(job).data},
                f"generation job {job.pk} {job.status}: {job.status_reason}",
                returncode=returncode,
            )
        _write_atomically(target, output_file(output), force=options["force"])
        return {
            **summary,
            "path": str(target),
            "sha256": output.sha256,
            "watermark_id": OutputSerializer(output).data["watermark_id"],
            "manifest_label": output.manifest_label,
        }


def _target(path: Path, *, force: bool) -> Path:
    """Checked before the job is queued, so a mistyped path costs no GPU time."""
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise ApplicationError(f"the folder {str(path.parent)!r} does not exist", code="output_dir_missing")
    if path.exists() and not force:
        raise ApplicationError(f"{str(path)!r} already exists; pass --force to replace it", code="output_exists")
    return path


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ApplicationError(f"cannot read the {what} {path!r}: {exc.strerror}", code="unreadable_file") from None


def _wait(job: GenerationJob, timeout: float) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.status in JOB_FINAL:
            return job
        if time.monotonic() > deadline:
            raise ApplicationError(
                f"generation job {job.pk} is still {job.status} after {timeout:.0f} s: is a `gpu` worker running?",
                code="generation_timeout",
                extra={"job_id": str(job.pk), "status": job.status},
            )
        time.sleep(0.2)


def _write_atomically(path: Path, data: bytes, *, force: bool) -> None:
    """A temporary file in the same folder, then a rename: a reader never sees half a file.
    Without --force the rename is a hard link, which fails rather than replace a file that
    appeared while the job ran."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        if force:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise ApplicationError(
                    f"{str(path)!r} appeared while the job ran; nothing was replaced", code="output_exists"
                ) from None
    finally:
        Path(temporary).unlink(missing_ok=True)
