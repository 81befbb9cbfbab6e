from __future__ import annotations

from pathlib import Path

from core.exceptions import ApplicationError
from core.management.base import CheckFailed, JsonCommand
from generation.services.verification import verify_image


class Command(JsonCommand):
    help = (
        "Verify an image: its C2PA manifest against the organisation's anchors, or, when stripped, "
        "its watermark or fingerprint; then its chain output → model → base model → snapshot. "
        "Exit 0 only when it is ours, Trusted, and its chain checks out."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")

    def run(self, *, file: str, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as error:
            raise ApplicationError(f"cannot read {file}: {error.strerror or error}", code="unreadable_file") from None
        verdict = verify_image(data)
        payload = verdict.as_dict()
        if not verdict.ok:
            reason = verdict.errors[0] if verdict.errors else "the image is not Trusted"
            raise CheckFailed(payload, reason)
        return payload
