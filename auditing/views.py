"""The review pages: the reviewer's queue, an asset with its findings and a decision on each,
and the images they show. Thin: the guard, then the selectors and services the API uses."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import IO, Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_safe

from auditing.evidence import exif_orientation, match_drawing, pii_boxes, viewed_size
from auditing.models import Finding, FindingStatus, ProtectedWork
from auditing.selectors import REVIEW_ORDERS, ReviewFilters, review_neighbours, review_queue
from auditing.services.audits import finding_resolve
from auditing.services.claims import asset_claim, asset_release, claim_holder
from core.audit import audit_events
from core.exceptions import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.storage import blob_open, derived_open
from core.web.navigation import PAGE_ROLES
from core.web.permissions import RoleRequiredMixin, role_required, signin_required
from provenance.models import Asset
from provenance.services.thumbnails import THUMBNAIL_SIZES, thumbnail_exists, thumbnail_label, thumbnails_request

AUDITORS = ("pii", "near_duplicate", "nsfw", "synthetic")
QUEUE_PAGE_SIZE = 50
HISTORY_SHOWN = 200
# Offered in the Reason field's list; a reviewer may type any other.
STANDARD_REASONS = (
    "Not what the check says: a false match",
    "The consent covers this use",
    "Not personal data",
    "Not a copy of the protected work",
    "Confirmed: the image must not be used for training",
    "Confirmed: personal data that cannot be used",
)
# The page shows this thumbnail of the image (the original is a click, or a zoom, away).
PAGE_THUMBNAIL = 1024
# A missing thumbnail is asked of the workers at most once in this many seconds per image.
_THUMBNAIL_ASK_SECONDS = 300
_FORMAT_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "TIFF": "image/tiff"}


class QueueFilterForm(forms.Form):
    auditor = forms.ChoiceField(label="Auditor", required=False, choices=[("", "any"), *((a, a) for a in AUDITORS)])
    code = forms.CharField(label="Finding code", required=False, max_length=64)
    dataset = forms.SlugField(label="Dataset", required=False, max_length=100)
    contributor = forms.EmailField(label="Contributor's email", required=False, max_length=254)
    since = forms.DateField(label="Found on or after", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Found before", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    min_score = forms.FloatField(label="Lowest score", required=False, min_value=0, max_value=1)
    max_score = forms.FloatField(label="Highest score", required=False, min_value=0, max_value=1)
    order = forms.ChoiceField(
        label="Order", required=False, choices=[("newest", "Newest first"), ("score", "Highest score first")]
    )

    def filters(self) -> ReviewFilters:
        data = self.cleaned_data
        return ReviewFilters(
            auditor=data["auditor"],
            code=data["code"],
            dataset=data["dataset"],
            contributor=data["contributor"],
            since=_midnight(data["since"]),
            until=_midnight(data["until"]),
            min_score=data["min_score"],
            max_score=data["max_score"],
        )


def _midnight(day) -> datetime | None:
    return timezone.make_aware(datetime.combine(day, time.min)) if day else None


@role_required(*PAGE_ROLES["/review/"])
@require_safe
def review_queue_page(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "rows": [], "total": None, "problem": None, "next_url": None}
    if form.is_bound and not form.is_valid():
        context["problem"] = "Some of the filters could not be used; correct them and press Filter again."
        return render(request, "auditing/queue.html", context, status=400)
    filters = form.filters() if form.is_bound else ReviewFilters()
    order = (form.cleaned_data.get("order") if form.is_bound else "") or REVIEW_ORDERS[0]
    try:
        page = review_queue(
            user=request.user, filters=filters, order=order, after=request.GET.get("after") or None, limit=QUEUE_PAGE_SIZE
        )
    except ApplicationError as error:
        context["problem"] = error.message
        return render(request, "auditing/queue.html", context, status=error.status)
    if page.next_cursor:
        query = request.GET.copy()
        query["after"] = page.next_cursor
        context["next_url"] = f"?{query.urlencode()}"
    context.update(rows=page.rows, total=page.total, first_page=not request.GET.get("after"))
    return render(request, "auditing/queue.html", context)


class AssetReviewPage(RoleRequiredMixin, View):
    """GET: hold the asset for the viewer and show it. POST: a decision on one of its findings
    (`finding`, `decision`, `reason`), then back to the page; with htmx, the finding alone."""

    required_roles = PAGE_ROLES["/review/"]

    def get(self, request: HttpRequest, asset_id) -> HttpResponse:
        asset = self._asset(request, asset_id)
        try:
            asset_claim(asset_id=asset.pk, reviewer=request.user)
        except ApplicationError as error:
            if error.code != "claimed":
                raise  # pragma: no cover - the guard above let only reviewers in
            # Held by another reviewer: the page shows who, until when, and offers no decision.
        return render(request, "auditing/asset.html", self._context(request, asset))

    def post(self, request: HttpRequest, asset_id) -> HttpResponse:
        asset = self._asset(request, asset_id)
        finding = asset.findings.filter(pk=_uuid_or_none(request.POST.get("finding"))).first()
        problem, status = None, 200
        if finding is None:
            problem, status = "This decision names no finding of this image; reload the page and try again.", 400
        else:
            try:
                finding_resolve(
                    finding_id=str(finding.pk),
                    reviewer=request.user,
                    decision=request.POST.get("decision", ""),
                    reason=request.POST.get("reason", "")[:10_000],
                )
            except ApplicationError as error:
                problem, status = error.message, error.status
                if error.code == "reason_required":
                    problem = "Write a reason for your decision: it goes in the permanent record."
            else:
                if not asset.findings.filter(status=FindingStatus.OPEN).exists():
                    # Nothing left to decide: another reviewer need not wait for the hold to lapse.
                    asset_release(asset_id=asset.pk, reviewer=request.user)
            finding.refresh_from_db()
        if request.htmx and finding is not None:
            # htmx swaps only 2xx answers: the refusal comes back as the finding, with its alert.
            boxes = _explain([finding], asset)
            asset.refresh_from_db(fields=["status"])
            context = {
                **self._finding_context(request, asset),
                "finding": finding,
                "problem": problem,
                # The page's status line follows the decision (an out-of-band swap).
                "status_too": True,
                "open_count": asset.findings.filter(status=FindingStatus.OPEN).count(),
                # ... and so do the boxes on the image (a decided one turns grey).
                "boxes": boxes,
                "frame": _viewed_frame(asset),
                # ... and the history gains the decision's event.
                "history": asset_history(asset, list(asset.findings.all())),
            }
            return render(request, "auditing/_finding.html", context)
        if problem is None:
            messages.success(request, f"Finding {finding.code} {finding.status}. It is in the record under your name.")
            return HttpResponseRedirect(request.path)
        context = self._context(request, asset)
        context.update(problem=problem)
        return render(request, "auditing/asset.html", context, status=status)

    def _asset(self, request: HttpRequest, asset_id) -> Asset:
        visible = Asset.objects.visible_to(request.user).select_related("contributor", "consent", "source")
        return get_object_or_404(visible, pk=asset_id)

    def _finding_context(self, request: HttpRequest, asset: Asset) -> dict[str, Any]:
        claim = claim_holder(asset.pk)
        held_by = claim if claim is not None and claim.reviewer_id != request.user.pk else None
        return {"asset": asset, "held_by": held_by, "standard_reasons": STANDARD_REASONS}

    def _context(self, request: HttpRequest, asset: Asset) -> dict[str, Any]:
        # Open findings first (what is left to do), each group by score, highest first.
        findings = sorted(
            asset.findings.select_related("resolved_by").order_by("-score", "created_at"),
            key=lambda finding: finding.status != FindingStatus.OPEN,
        )
        boxes = _explain(findings, asset)
        neighbours = review_neighbours(user=request.user, asset_id=asset.pk)
        return {
            **self._finding_context(request, asset),
            "findings": findings,
            "open_count": sum(1 for finding in findings if finding.status == FindingStatus.OPEN),
            "history": asset_history(asset, findings),
            "metadata": _metadata_highlights(asset.metadata),
            "c2pa": c2pa_summary(asset.c2pa),
            "previous_url": _asset_url(neighbours.previous),
            "next_url": _asset_url(neighbours.next),
            # The next image's bytes, not its page: fetching the page claims the asset, so a
            # prefetch would hold an image nobody is looking at (and a cached page claims none).
            "next_image_url": reverse("asset-thumbnail", args=[neighbours.next, PAGE_THUMBNAIL]) if neighbours.next else None,
            "frame": _viewed_frame(asset),
            "boxes": boxes,
            "larger_than_page": max(asset.width, asset.height) > PAGE_THUMBNAIL,
        }


def asset_history(asset: Asset, findings: list[Finding]) -> list[AuditEvent]:
    """Every recorded event about the asset and its findings, newest first (the latest 200)."""
    finding_ids = [str(finding.pk) for finding in findings]
    events = audit_events().filter(
        Q(subject_type="asset", subject_id=str(asset.pk)) | Q(subject_type="finding", subject_id__in=finding_ids)
    )
    return list(events.order_by("-seq")[:HISTORY_SHOWN])


def _viewed_frame(asset: Asset) -> dict[str, Any]:
    """The image as a browser shows it: its size with the EXIF orientation applied, and the
    size the overlays' labels are drawn at (about 16 px on screen when the image is 30rem across)."""
    width, height = viewed_size(asset.width, asset.height, exif_orientation(asset.metadata))
    return {"width": width, "height": height, "label_size": round(max(width, height) / 32, 1)}


def _explain(findings: list[Finding], asset: Asset) -> list:
    """Give each finding its words and what is drawn for it; return the boxes drawn on the image,
    numbered in the order the findings were made (a number never changes with a decision)."""
    boxed = asset.findings.filter(auditor="pii", details__box__isnull=False).order_by("created_at", "pk")
    orientation = exif_orientation(asset.metadata)
    boxes = pii_boxes(boxed, width=asset.width, height=asset.height, orientation=orientation, label=box_label)
    numbers = {box.finding_id: box.number for box in boxes}
    for finding in findings:
        finding.evidence, finding.summary = finding_evidence(finding), finding_summary(finding)
        finding.box_number = numbers.get(str(finding.pk))
        finding.drawing = match_drawing(finding.details or {}) if finding.auditor == "near_duplicate" else None
        finding.labels = _nsfw_labels(finding)
        finding.counterpart = _counterpart(finding)
    return boxes


def _counterpart(finding: Finding) -> dict[str, str] | None:
    """The image a near-duplicate resembles: where to fetch it, and its words."""
    details = finding.details or {}
    if details.get("protected_work_id"):
        owner = details.get("owner") or "someone"
        reference = f", {details['reference']}" if details.get("reference") else ""
        return {
            "url": reverse("protected-work-image", args=[details["protected_work_id"]]),
            "alt": f"The protected work it resembles, owned by {owner}",
            "caption": f"Protected work: {owner}{reference}",
            "name": "the protected work",
        }
    other = _uuid_or_none(details.get("asset_id"))
    if finding.code == "near_duplicate.within_dataset" and other is not None:
        return {
            "url": reverse("asset-image", args=[other]),
            "alt": f"Image {other} of the same dataset, which it resembles",
            "caption": f"Image {other}, already in the dataset",
            "name": "the other image",
        }
    return None


def box_label(finding: Finding) -> str:
    """What a box on the image says: the kind of personal data and its masked value."""
    details = finding.details or {}
    kind = str(details.get("entity_type", "personal data")).replace("_", " ").lower()
    text = str(details.get("text") or "")
    return f"{kind}: {text}" if text else kind


def _nsfw_labels(finding: Finding) -> list[tuple[str, float]]:
    if finding.auditor != "nsfw":
        return []
    labels = (finding.details or {}).get("labels") or []
    return [
        (str(label.get("label", "")).replace("_", " ").lower(), float(label.get("score", 0.0)))
        for label in labels
        if isinstance(label, dict)
    ]


@signin_required
@require_safe
def asset_image(request: HttpRequest, asset_id) -> FileResponse:
    """An asset's bytes, to a user who may see the asset (the API's rule)."""
    asset = get_object_or_404(Asset.objects.visible_to(request.user), pk=asset_id)
    return _image_response(asset.sha256, asset.mime_type)


@signin_required
@require_safe
def asset_thumbnail(request: HttpRequest, asset_id, size: int) -> HttpResponseBase:
    """A WebP thumbnail of an asset (256 or 1024 px along its longest side), to whoever may see
    the asset. Only a worker makes them: when this one is not made yet, its derivation is
    queued and the original bytes are served meanwhile (never decoded here)."""
    if size not in THUMBNAIL_SIZES:
        raise Http404("no thumbnail of that size")
    asset = get_object_or_404(Asset.objects.visible_to(request.user), pk=asset_id)
    if thumbnail_exists(sha256=asset.sha256, size=size):
        # The thumbnail's name holds the source's digest and how it was made: a stable validator.
        etag = f'"{asset.sha256}-{thumbnail_label(size)}"'
        if etag in request.headers.get("If-None-Match", ""):
            unchanged = HttpResponse(status=304)
            unchanged["ETag"] = etag
            return unchanged
        try:
            thumbnail = _served(derived_open(asset.sha256, thumbnail_label(size)), "image/webp")
        except FileNotFoundError:  # erased between the two looks
            raise Http404("the image's bytes are gone (erased)") from None
        thumbnail["ETag"] = etag
        return thumbnail
    original = _image_response(asset.sha256, asset.mime_type)
    # Not cached: the next look should find the thumbnail.
    original["Cache-Control"] = "private, no-cache"
    if cache.add(f"thumbnail-asked:{asset.sha256}", True, timeout=_THUMBNAIL_ASK_SECONDS):
        thumbnails_request(asset_ids=[str(asset.pk)])
    return original


@role_required(Role.REVIEWER)
@require_safe
def protected_work_image(request: HttpRequest, work_id) -> FileResponse:
    """A protected work's bytes: reviewers compare it with the asset that resembles it."""
    work = get_object_or_404(ProtectedWork, pk=work_id)
    return _image_response(work.sha256, _FORMAT_MIME.get(work.format.upper(), "application/octet-stream"))


def _image_response(sha256: str, mime_type: str) -> FileResponse:
    try:
        stream = blob_open(sha256)
    except FileNotFoundError:
        raise Http404("the image's bytes are gone (erased)") from None
    return _served(stream, mime_type)


def _served(stream: IO[bytes], mime_type: str) -> FileResponse:
    # The stored type was sniffed from the bytes at ingest; nosniff stops a browser guessing
    # another (a GIF/JS polyglot stays an image), and inline keeps it out of downloads.
    response = FileResponse(stream, content_type=mime_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _asset_url(asset_id) -> str | None:
    return reverse("review-asset", args=[asset_id]) if asset_id else None


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def c2pa_summary(store: dict | None) -> str:
    """The embedded Content Credentials in a sentence: who made the claim, who signed it, and
    whether it checked out."""
    if not store:
        return "none embedded"
    if store.get("error"):
        return f"present but unreadable ({store['error']})"
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
    if not isinstance(active, dict):
        active = {}
    generator = active.get("claim_generator") or ", ".join(
        str(info.get("name", "")) for info in active.get("claim_generator_info") or [] if isinstance(info, dict)
    )
    signer = (active.get("signature_info") or {}).get("issuer") if isinstance(active.get("signature_info"), dict) else None
    parts = [f"made with {generator}" if generator else "present"]
    if signer:
        parts.append(f"signed by {signer}")
    parts.append(f"check: {store.get('validation_state') or 'not checked'}")
    if store.get("validation_status"):
        parts.append(f"problems: {', '.join(map(str, store['validation_status']))[:300]}")
    return "; ".join(parts)


def _metadata_highlights(metadata: dict) -> list[tuple[str, str]]:
    """A few EXIF/XMP fields worth a reviewer's eye, flattened to words."""
    rows = []
    for key, value in sorted((metadata or {}).items()):
        if isinstance(value, dict):
            rows.extend((f"{key} {inner}", str(inner_value)[:200]) for inner, inner_value in sorted(value.items())[:12])
        else:
            rows.append((key, str(value)[:200]))
    return rows[:30]


def finding_summary(finding: Finding) -> str:
    """What the check found, in one plain sentence for a reviewer who is not an engineer."""
    details = finding.details or {}
    if finding.code == "near_duplicate.protected_work":
        reference = f" ({details['reference']})" if details.get("reference") else ""
        changes = f" Changes between the two: {', '.join(details['transforms'])}." if details.get("transforms") else ""
        return f"This image looks like a copy of a protected work owned by {details.get('owner', 'someone')}{reference}.{changes}"
    if finding.code == "near_duplicate.within_dataset":
        return f"This image looks like a copy of another image in the same dataset ({details.get('asset_id', 'unknown')})."
    if finding.code == "pii.location.gps_coordinates":
        where = details.get("details") or {}
        credentials = _in_content_credentials(where)
        if credentials:
            return f"The image's {credentials} record where it was taken: {_coordinates(where)}."
        return f"The image's metadata records where it was taken: {_coordinates(where)}."
    if finding.auditor == "pii":
        kind = str(details.get("entity_type", "personal data")).replace("_", " ").lower()
        if details.get("box") and kind == "face":
            return "A face: a person who can be recognised."
        credentials = _in_content_credentials(details.get("details") or {})
        if details.get("box"):
            where = "written in the picture"
        elif credentials:
            where = f"in its {credentials}"
        else:
            where = f"in its {details.get('field') or 'data'}"
        # The detector stored the value masked (auditing.detectors.pii_hit.mask): shown as is.
        return f"Personal data {where}: {kind}, {details.get('text') or 'value not kept'}."
    if finding.auditor == "nsfw":
        labels = ", ".join(f"{label['label']} ({label['score']:.2f})" for label in details.get("labels", []))
        return f"The check for explicit content scored it {finding.score:.2f}" + (f": {labels}." if labels else ".")
    if finding.auditor == "synthetic":
        kind = str(details.get("digital_source_type", "")).rsplit("/", 1)[-1] or "generated"
        signal = _SYNTHETIC_SIGNALS.get(str(details.get("declared_in")), f"its {details.get('declared_in', 'metadata')}")
        return f"{signal} says it was made by a computer ({kind}), not photographed."
    return f"The {finding.auditor} check flagged this image ({finding.code})."


# Which signal said an image was generated, in words (auditing.auditors.synthetic's `declared_in`).
_SYNTHETIC_SIGNALS = {
    "metadata": "The digital source type in the image's own metadata (IPTC, read at upload)",
    "xmp": "The IPTC digital source type in the image's XMP metadata",
}


def _in_content_credentials(where: dict[str, Any]) -> str:
    """Where in the embedded C2PA manifest store a PII hit sits (auditing.detectors.pii_c2pa's
    details), in words: the assertion, the value's path inside it, and the manifest."""
    if where.get("source") != "c2pa" or not where.get("assertion"):
        return ""
    path = str(where.get("path") or "$")
    value = f", value {path.removeprefix('$.')}" if path != "$" else ""
    return f"Content Credentials ({where['assertion']}{value}) in manifest {where.get('manifest') or 'unknown'}"


def _coordinates(gps: dict[str, Any]) -> str:
    latitude, longitude = gps.get("latitude"), gps.get("longitude")
    if not isinstance(latitude, (int, float)) or not isinstance(longitude, (int, float)):
        return "coordinates not kept"
    north, east = "N" if latitude >= 0 else "S", "E" if longitude >= 0 else "W"
    words = f"latitude {abs(latitude):.6f}° {north}, longitude {abs(longitude):.6f}° {east}"
    altitude = gps.get("altitude")
    if isinstance(altitude, (int, float)):
        words += f", altitude {altitude:.0f} m"
    return words


def finding_evidence(finding: Finding) -> list[tuple[str, str]]:
    """The finding's details in words, one line per field (the homography as its numbers)."""
    rows = []
    for key, value in (finding.details or {}).items():
        if value in (None, "", [], {}) or (key == "text" and finding.auditor == "pii"):
            continue
        rows.append((key.replace("_", " "), _words(value)))
    return rows


def _words(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(_words(item) for item in value)[:500]
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_words(v)}" for k, v in value.items())[:500]
    return str(value)[:500]
