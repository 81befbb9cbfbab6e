"""The portal's consent form and its depicted-person rows.

The form checks only the shape of what was sent (a date is a date, a file was chosen); the rules
of a consent (expiry after the grant, `likeness` needs the people shown, each of them granting
`likeness`) are the consent document's (`provenance.consent_document.parse_consent`), the same
ones a consent file meets. The view turns the form into that document.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from provenance.models import ConsentScope
from provenance.portal.selectors import SCOPE_MEANING

SCOPE_CHOICES = [(scope, scope) for scope in ConsentScope.values]
MAX_PERSON_ROWS = 20
PERSON_ROWS_WITHOUT_SCRIPT = 2


class ConsentForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        label="What may your images be used for?",
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one use you agree to."},
    )
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The consent ends at the start of this day (UTC). Leave it empty for a consent that lasts until you revoke it.",
        error_messages={"invalid": "Enter the expiry as a date, for example 2027-12-31."},
    )
    evidence = forms.FileField(
        label="Signed consent form",
        help_text="A scan or PDF of the form you signed. It is stored unchanged and fingerprinted (SHA-256).",
        error_messages={"required": "Attach the signed consent form.", "empty": "The signed consent form you chose is empty."},
    )
    agree = forms.BooleanField(
        label="I have read the terms above and agree to them for the uses I ticked.",
        error_messages={"required": "Tick the box to agree to the terms."},
    )

    def expires_at(self) -> datetime | None:
        expires_on: date | None = self.cleaned_data.get("expires_on")
        return datetime.combine(expires_on, time(0), tzinfo=UTC) if expires_on else None


class DepictedPersonForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, required=False)
    scopes = forms.MultipleChoiceField(
        label="What this person agreed to",
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=["likeness"],
    )
    evidence = forms.FileField(
        label="Their signed release",
        required=False,
        error_messages={"empty": "The release you chose is empty."},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.has_changed():
            return cleaned
        if not cleaned.get("name", "").strip():
            self.add_error("name", "Give the name of the person shown.")
        if not cleaned.get("scopes"):
            self.add_error("scopes", "Tick what this person agreed to.")
        if not cleaned.get("evidence"):
            self.add_error("evidence", "Attach this person's signed release.")
        return cleaned

    def person(self) -> tuple[str, list[str], UploadedFile] | None:
        """(name, scopes, release), or None for a row left empty."""
        if not self.has_changed() or not self.cleaned_data.get("name"):
            return None
        return self.cleaned_data["name"].strip(), list(self.cleaned_data["scopes"]), self.cleaned_data["evidence"]


DepictedPersonFormSet = forms.formset_factory(
    DepictedPersonForm, extra=PERSON_ROWS_WITHOUT_SCRIPT, max_num=MAX_PERSON_ROWS, validate_max=True
)

SCOPE_EXPLAINED = [(scope, SCOPE_MEANING[scope]) for scope in ConsentScope.values]
