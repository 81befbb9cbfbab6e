"""The contributor's consents: give one (/portal/consents/new/), read it, download what was agreed,
and revoke it after seeing exactly what the revocation will do.

Every rule lives in the consent services: the form becomes a `ConsentDocument` granted through
`consent_grant` (as a consent file is), the preview comes from `consent_revocation_preview` and
the revocation from `consent_revoke`, which select the same images and snapshots.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import zipfile
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from core.exceptions import ApplicationError, NotFound
from core.storage import blob_open
from provenance.consent_document import parse_consent
from provenance.portal.access import PortalPageMixin
from provenance.portal.forms import SCOPE_EXPLAINED, ConsentForm, DepictedPersonFormSet
from provenance.portal.selectors import (
    SCOPE_MEANING,
    PortalConsent,
    models_trained_on,
    portal_consent_get,
    portal_revocation_effects,
)
from provenance.services.consent import consent_grant, consent_revocation_preview, consent_revoke, evidence_opener_for_uploads
from provenance.terms import terms_current, terms_get

# The consent document's refusals, in the words of the form (the rule itself stays there).
_PLAIN = [
    ("expires_at must be after granted_at", "expires_on", "The expiry date has passed: choose a later date, or leave it empty."),
    ("likeness scope needs depicted_persons", "persons", "You ticked likeness: name each person shown, with their release."),
    ("must grant the likeness scope", "persons", "Each person shown must agree to likeness: tick it in their row."),
]


def _plain(error: ApplicationError) -> tuple[str | None, str]:
    for needle, field, words in _PLAIN:
        if needle in error.message:
            return field, words
    return None, error.message.removeprefix("consent file: ")


def _consent_or_404(contributor: Any, consent_id: str) -> PortalConsent:
    try:
        return portal_consent_get(contributor, consent_id)
    except NotFound:
        raise Http404("no consent of yours with that id") from None


class ConsentNewView(PortalPageMixin, View):
    template = "portal/consent_new.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, ConsentForm(), DepictedPersonFormSet(prefix="person"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ConsentForm(request.POST, request.FILES)
        persons = DepictedPersonFormSet(request.POST, request.FILES, prefix="person")
        problems: list[str] = []
        persons_problems: list[str] = []
        if form.is_valid() and persons.is_valid():
            try:
                consent = self._grant(form, persons)
            except ApplicationError as error:
                field, words = _plain(error)
                if field == "persons":  # said in the people's rows and in the summary
                    persons_problems.append(words)
                elif field:
                    form.add_error(field, words)  # said beside the field and in the summary
                else:
                    problems.append(words)
            else:
                messages.success(request, "Your consent is recorded. You can download what you agreed to below.")
                return redirect("portal-consent", consent_id=consent.pk)
        return self._page(request, form, persons, problems=problems, persons_problems=persons_problems, status=400)

    def _grant(self, form: ConsentForm, persons: Any) -> Any:
        terms = terms_current()
        uploads = [form.cleaned_data["evidence"]]
        rows = [row for row in (person.person() for person in persons.forms) if row is not None]
        document_persons = []
        taken = {uploads[0].name}
        for number, (name, scopes, release) in enumerate(rows, start=1):
            if release.name in taken:  # evidence is found by file name: keep each one's own
                release.name = f"person-{number}-{release.name}"
            taken.add(release.name)
            uploads.append(release)
            document_persons.append({"name": name, "scopes": scopes, "evidence": release.name})
        expires_at = form.expires_at()
        document = parse_consent(
            {
                "contributor": self.contributor.email,
                "scopes": form.cleaned_data["scopes"],
                "terms_version": terms.version,
                "granted_at": timezone.now().isoformat(),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "evidence": uploads[0].name,
                "depicted_persons": document_persons,
            }
        )
        consent, _ = consent_grant(
            document=document,
            contributor=self.contributor,
            open_evidence=evidence_opener_for_uploads(uploads),
            actor=self.request.user,
        )
        return consent

    def _page(
        self,
        request: HttpRequest,
        form: forms.Form,
        persons: Any,
        *,
        problems: Any = (),
        persons_problems: Any = (),
        status: int = 200,
    ) -> HttpResponse:
        persons_problems = [*persons_problems, *persons.non_form_errors()]
        summary: list[tuple[str | None, str]] = [(None, str(p)) for p in problems]
        summary += [("persons-help", str(p)) for p in persons_problems]
        named = [("", form)] + [(f"Person {n}, ", person) for n, person in enumerate(persons.forms, start=1)]
        for prefix, bound_form in named:
            for name, errors in bound_form.errors.items():
                if name in bound_form.fields:
                    field = bound_form[name]
                    target = field.id_for_label or f"{field.auto_id}_0"  # a group of boxes: its first
                    summary += [(target, f"{prefix}{field.label}: {error}") for error in errors]
        context = {
            "form": form,
            "persons": persons,
            "summary": summary,
            "persons_problems": persons_problems,
            "has_errors": bool(summary),
            "terms": terms_current(),
            "scopes_explained": SCOPE_EXPLAINED,
        }
        return render(request, self.template, context, status=status)


def _agreement(portal: PortalConsent) -> dict[str, Any]:
    consent = portal.consent
    try:
        terms = terms_get(consent.terms_version)
    except NotFound:
        terms = None
    effects = portal_revocation_effects(consent) if portal.state.status == "revoked" else None
    return {
        "consent": consent,
        "state": portal.state,
        "events": portal.events,
        "scopes": [(scope, SCOPE_MEANING.get(scope, "")) for scope in consent.scopes],
        "persons": list(consent.depicted_persons.all()),
        "terms": terms,
        "effects": effects,
        "revocation": next((e for e in portal.events if e.kind == "revoked"), None),
    }


class ConsentDetailView(PortalPageMixin, View):
    def get(self, request: HttpRequest, consent_id: str) -> HttpResponse:
        portal = _consent_or_404(self.contributor, str(consent_id))
        return render(request, "portal/consent.html", _agreement(portal))


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept with the revocation in the consent's record. A sentence is enough.",
        error_messages={"required": "Say in a few words why you revoke this consent."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say in a few words why you revoke this consent.")
        return reason


class ConsentRevokeView(PortalPageMixin, View):
    """GET: what revoking will do; POST (with a reason): revoke."""

    def get(self, request: HttpRequest, consent_id: str) -> HttpResponse:
        return self._preview(request, str(consent_id), RevokeForm())

    def post(self, request: HttpRequest, consent_id: str) -> HttpResponse:
        portal = _consent_or_404(self.contributor, str(consent_id))
        form = RevokeForm(request.POST)
        if not form.is_valid():
            return self._preview(request, str(consent_id), form, status=400)
        try:
            consent_revoke(consent_id=str(portal.consent.pk), actor=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as error:
            return self._refused(request, portal, error)
        messages.success(request, "Your consent is revoked. Below is what it changed.")
        return redirect("portal-consent", consent_id=portal.consent.pk)

    def _preview(self, request: HttpRequest, consent_id: str, form: RevokeForm, *, status: int = 200) -> HttpResponse:
        portal = _consent_or_404(self.contributor, consent_id)
        try:
            preview = consent_revocation_preview(consent_id=str(portal.consent.pk), actor=request.user)
        except ApplicationError as error:
            return self._refused(request, portal, error)
        context = {
            "consent": portal.consent,
            "state": portal.state,
            "form": form,
            "assets": preview.assets,
            "snapshots": preview.snapshots,
            "models": models_trained_on([str(s.pk) for s in preview.snapshots]),
        }
        return render(request, "portal/consent_revoke.html", context, status=status)

    def _refused(self, request: HttpRequest, portal: PortalConsent, error: ApplicationError) -> HttpResponse:
        words = "This consent is already revoked." if error.code == "already_revoked" else error.message
        context = {"consent": portal.consent, "problem": words}
        return render(request, "portal/consent_refused.html", context, status=error.status)


class ConsentDownloadView(PortalPageMixin, View):
    """A ZIP of what they agreed to: the consent as recorded (canonical JSON and its digest, with
    its events), the terms text of its version and every evidence file, byte for byte."""

    def get(self, request: HttpRequest, consent_id: str) -> HttpResponse:
        portal = _consent_or_404(self.contributor, str(consent_id))
        consent = portal.consent
        record = {
            "consent_id": str(consent.pk),
            "digest": consent.digest,
            "digest_of": "SHA-256 of consent.document as JSON with sorted keys and no spaces",
            "document": consent.document,
            "recorded_at": consent.recorded_at.isoformat(),
            "state": portal.state.status,
            "events": [
                {
                    "kind": e.kind,
                    "at": e.at.isoformat(),
                    "reason": e.reason,
                    "expires_at": e.expires_at.isoformat() if e.expires_at else None,
                }
                for e in portal.events
            ],
        }
        # Built in a temporary file, each evidence copied in pieces: a 100 MB form never sits in memory.
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("consent.json", json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            with contextlib.suppress(NotFound):  # a version this installation has no text of
                archive.writestr(f"terms-{consent.terms_version}.md", terms_get(consent.terms_version).text)
            documents = [("evidence", consent.evidence)] + [
                (f"person-{n}", p.evidence) for n, p in enumerate(consent.depicted_persons.all(), start=1)
            ]
            for folder, document in documents:
                with blob_open(document.sha256) as stream, archive.open(f"{folder}/{document.original_name}", "w") as member:
                    shutil.copyfileobj(stream, member)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=f"consent-{consent.pk}.zip", content_type="application/zip")
