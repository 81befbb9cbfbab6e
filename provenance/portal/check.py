"""'Was my image used?' (/portal/check/): a contributor picks one of their images or drops a
file, and sees every snapshot that includes it, the models trained on those snapshots and the
images those models released; for each snapshot a Merkle inclusion proof to download, the JSON
of `snapshot prove`, and docs/merkle.md to check it offline.

A dropped file is hashed as its bytes arrive and never stored, not even in a temporary file
(`HashOnlyUploadHandler`), then compared with the contributor's own images alone: someone
else's file and nobody's get the same answer, so the page is no oracle for other people's
images.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from provenance.api.serializers import SnapshotProofSerializer
from provenance.models import Asset, Contributor
from provenance.portal.access import PortalPageMixin
from provenance.services.usage import (
    asset_snapshot_proof,
    asset_usage,
    contributor_asset,
    contributor_asset_by_sha256,
    contributor_assets,
)

MERKLE_DOC = Path(settings.BASE_DIR) / "docs" / "merkle.md"
NOT_FOUND = "not found among your images"


class HashedFile(UploadedFile):
    """What is left of a dropped file: its name, size and SHA-256; no bytes."""

    def __init__(self, *, name: str, size: int, sha256: str) -> None:
        super().__init__(file=None, name=name, content_type=None, size=size)
        self.sha256 = sha256


class HashOnlyUploadHandler(FileUploadHandler):
    """Hashes each file as its chunks arrive and keeps none of them, in memory or on disk."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.digest = hashlib.sha256()
        self.size = 0
        raise StopFutureHandlers  # no other handler sees (and stores) this file

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.digest.update(raw_data)
        self.size += len(raw_data)
        return None

    def file_complete(self, file_size: int) -> HashedFile:
        return HashedFile(name=self.file_name or "", size=self.size, sha256=self.digest.hexdigest())


class CheckFileForm(forms.Form):
    image = forms.FileField(
        label="Image",
        help_text="The file is compared with your own images by its fingerprint (SHA-256) and is not kept.",
        error_messages={
            "required": "Choose an image file to check.",
            "empty": "That file is empty: choose the image file itself.",
        },
    )


class PickForm(forms.Form):
    asset = forms.ChoiceField(label="Your image")

    def __init__(self, *args: Any, assets: list[Asset], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [(str(asset.pk), f"{asset.original_name} ({asset.status})") for asset in assets]


def _page(
    request: HttpRequest, contributor: Contributor, *, form: CheckFileForm, asset: Asset | None, asked: bool
) -> HttpResponse:
    assets = contributor_assets(contributor=contributor)
    pick = PickForm(initial={"asset": str(asset.pk) if asset else None}, assets=assets)
    context = {
        "form": form,
        "pick": pick,
        "has_assets": bool(assets),
        "usage": asset_usage(asset=asset) if asset is not None else None,
        "not_found": asked and asset is None,
        "not_found_message": NOT_FOUND,
    }
    return render(request, "portal/check.html", context)


@method_decorator(csrf_exempt, name="dispatch")  # checked in `post`, once the hashing handler is in place
class CheckView(PortalPageMixin, View):
    """GET: the page, or the answer for one of their images (`?asset=<id>`). POST: the answer
    for a dropped file."""

    def get(self, request: HttpRequest) -> HttpResponse:
        asked = "asset" in request.GET
        asset = contributor_asset(contributor=self.contributor, asset_id=request.GET["asset"]) if asked else None
        return _page(request, self.contributor, form=CheckFileForm(), asset=asset, asked=asked)

    def post(self, request: HttpRequest) -> HttpResponse:
        # Django reads the body with the handlers set before request.POST is first touched,
        # which is why the CSRF check comes after this line and not in the middleware.
        request.upload_handlers = [HashOnlyUploadHandler(request)]
        return self._checked_post(request)

    @method_decorator(csrf_protect)
    def _checked_post(self, request: HttpRequest) -> HttpResponse:
        form = CheckFileForm(request.POST, request.FILES)
        if not form.is_valid():
            return _page(request, self.contributor, form=form, asset=None, asked=False)
        hashed: HashedFile = form.cleaned_data["image"]
        asset = contributor_asset_by_sha256(contributor=self.contributor, sha256=hashed.sha256)
        return _page(request, self.contributor, form=CheckFileForm(), asset=asset, asked=True)


class ProofView(PortalPageMixin, View):
    """The inclusion proof of one of their images in a snapshot that includes it, exactly the
    JSON `snapshot prove` prints; 404 for anything else."""

    def get(self, request: HttpRequest, asset_id: str, snapshot_id: str) -> HttpResponse:
        asset = contributor_asset(contributor=self.contributor, asset_id=asset_id)
        proof = asset_snapshot_proof(asset=asset, snapshot_id=snapshot_id) if asset is not None else None
        if proof is None:
            raise Http404("no such proof")
        response = HttpResponse(proof_json(SnapshotProofSerializer(proof).data), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="proof-{asset.pk}-{snapshot_id}.json"'
        return response


def proof_json(payload: dict) -> str:
    """As the CLI's `--json` writes it (core.management.base.JsonCommand)."""
    return json.dumps(payload, default=str, ensure_ascii=False)


class HowToView(PortalPageMixin, View):
    """docs/merkle.md, readable from the page: how to check a proof offline."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "portal/check_howto.html", {"text": MERKLE_DOC.read_text(encoding="utf-8")})
