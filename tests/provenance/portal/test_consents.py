"""The portal's consents: the revocation preview picks exactly what the revocation then does (on
a world with an approved snapshot and a model trained on it), and the pages through Django's
test client: the consent form grants through the consent service or stores nothing, the consent
page, its download, and a revocation refused for another contributor, twice, or without reason."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.exceptions import ApplicationError, PermissionDenied
from provenance.models import (
    Asset,
    AssetStatus,
    ConsentEvent,
    ConsentRecord,
    Contributor,
    DepictedPerson,
    EvidenceDocument,
    Snapshot,
    SnapshotStatus,
)
from provenance.portal.selectors import models_trained_on
from provenance.services.consent import consent_revocation_preview, consent_revoke
from provenance.terms import CURRENT
from tests.support.pages import client

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = {
        "scopes": ["ai_training", "generative_training"],
        "expires_on": "",
        "evidence": SimpleUploadedFile("signed-form.pdf", b"%PDF-1.4 carla signed"),
        "agree": "on",
        "person-TOTAL_FORMS": "2",
        "person-INITIAL_FORMS": "0",
        "person-MIN_NUM_FORMS": "0",
        "person-MAX_NUM_FORMS": "20",
        "person-0-scopes": ["likeness"],
        "person-1-scopes": ["likeness"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def stored() -> tuple[int, int, int]:
    return ConsentRecord.objects.count(), EvidenceDocument.objects.count(), DepictedPerson.objects.count()


# -- the service: preview and revocation share their selection -------------------------------------
def test_the_preview_names_exactly_the_images_snapshots_and_models_the_revocation_changes(cpu_trained_model, contributor):
    trainable, model = cpu_trained_model
    consent_id = str(trainable.consent.pk)

    preview = consent_revocation_preview(consent_id=consent_id, actor=contributor)
    assert len(preview.assets) == 2 and [s.pk for s in preview.snapshots] == [trainable.snapshot.pk]
    assert [m.model_id for m in models_trained_on([str(s.pk) for s in preview.snapshots])] == [str(model.pk)]

    revocation = consent_revoke(consent_id=consent_id, actor=contributor, reason="I changed my mind")
    assert revocation.withdrawn_assets == [str(a.pk) for a in preview.assets]
    assert revocation.tainted_snapshots == [str(s.pk) for s in preview.snapshots]
    assert Snapshot.objects.get(pk=trainable.snapshot.pk).status == SnapshotStatus.TAINTED
    assert set(Asset.objects.filter(consent_id=consent_id).values_list("status", flat=True)) == {AssetStatus.WITHDRAWN}


def test_the_preview_is_refused_to_another_contributor_and_after_the_revocation(world, contributor, other_contributor):
    consent_id = str(world.consent.pk)
    with pytest.raises(PermissionDenied):
        consent_revocation_preview(consent_id=consent_id, actor=other_contributor)
    consent_revoke(consent_id=consent_id, actor=contributor, reason="withdrawn")
    with pytest.raises(ApplicationError) as refused:
        consent_revocation_preview(consent_id=consent_id, actor=contributor)
    assert refused.value.code == "already_revoked" and refused.value.status == 409


# -- the consent form ------------------------------------------------------------------------------
def test_the_form_grants_a_consent_through_the_service_with_the_current_terms(contributor):
    response = client(contributor).post("/portal/consents/new/", form_data())
    consent = ConsentRecord.objects.get(contributor__email="carla@example.com")
    assert response.status_code == 302 and response["Location"] == f"/portal/consents/{consent.pk}/"
    assert consent.scopes == ["ai_training", "generative_training"] and consent.terms_version == CURRENT
    assert consent.evidence.original_name == "signed-form.pdf" and consent.expires_at is None
    assert consent.document["evidence_sha256"] == consent.evidence.sha256


def test_the_form_records_each_person_shown_with_their_own_release(contributor):
    data = form_data(
        scopes=["ai_training", "likeness"],
        expires_on=(timezone.now() + timedelta(days=400)).date().isoformat(),
        **{
            "person-0-name": "Mo Model",
            "person-0-scopes": ["likeness", "commercial_use"],
            # The same file name as the form: each keeps its own bytes.
            "person-0-evidence": SimpleUploadedFile("signed-form.pdf", b"%PDF-1.4 mo's release"),
        },
    )
    assert client(contributor).post("/portal/consents/new/", data).status_code == 302
    consent = ConsentRecord.objects.get()
    [person] = consent.depicted_persons.all()
    assert person.name == "Mo Model" and sorted(person.scopes) == ["commercial_use", "likeness"]
    assert person.evidence.sha256 != consent.evidence.sha256
    assert consent.expires_at is not None and consent.expires_at > timezone.now()


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"expires_on": "2020-01-01"}, "The expiry date has passed"),
        ({"evidence": None}, "Attach the signed consent form."),
        ({"scopes": None}, "Tick at least one use you agree to."),
        ({"agree": None}, "Tick the box to agree to the terms."),
        ({"scopes": ["likeness"]}, "You ticked likeness: name each person shown"),
        ({"person-0-name": "Mo Model"}, "Attach this person&#x27;s signed release."),
        ({"expires_on": "next tuesday"}, "Enter the expiry as a date"),
    ],
    ids=[
        "past expiry",
        "no evidence",
        "no scope",
        "terms not agreed",
        "likeness without persons",
        "person without release",
        "not a date",
    ],
)
def test_a_bad_consent_form_is_explained_and_stores_nothing(contributor, overrides, says):
    before = stored()
    response = client(contributor).post("/portal/consents/new/", form_data(**overrides))
    html = response.content.decode()
    assert response.status_code == 400 and says in html
    assert 'role="alert"' in html and "Your consent has not been recorded" in html
    assert html.count(says) == 2  # beside its field (or the people shown) and in the summary
    assert stored() == before


def test_the_form_shows_every_scope_explained_and_the_terms_text(contributor):
    html = client(contributor).get("/portal/consents/new/").content.decode()
    for scope in ("ai_training", "generative_training", "commercial_use", "likeness"):
        assert f'value="{scope}"' in html
    assert f"The terms (version {CURRENT})" in html and "<p>4. Revoking." in html
    assert "Add another person" in html and 'name="person-1-name"' in html


# -- the consent page, its download and the revocation ------------------------------------------------
def test_the_consent_page_says_what_was_agreed_and_its_download_holds_the_record_terms_and_form(world, contributor):
    consent = world.consent
    html = client(contributor).get(f"/portal/consents/{consent.pk}/").content.decode()
    assert consent.evidence.sha256 in html and consent.digest in html and "Revoke consent" in html

    response = client(contributor).get(f"/portal/consents/{consent.pk}/download/")
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    record = json.loads(archive.read("consent.json"))
    assert record["digest"] == consent.digest and record["document"] == consent.document
    canonical = json.dumps(record["document"], sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == consent.digest
    assert archive.read(f"evidence/{consent.evidence.original_name}") == b"%PDF-1.4 signed form"
    assert f"terms-{consent.terms_version}.md" in archive.namelist()


def test_revoking_shows_what_will_happen_then_revokes_with_the_reason(world, contributor):
    web = client(contributor)
    url = f"/portal/consents/{world.consent.pk}/revoke/"
    preview = web.get(url).content.decode()
    assert str(world.asset.pk) in preview and str(world.snapshot.pk) in preview and "Confirm revocation" in preview
    assert not ConsentEvent.objects.filter(consent=world.consent).exists()

    response = web.post(url, {"reason": "  "})
    assert response.status_code == 400 and "Say in a few words why" in response.content.decode()
    assert not ConsentEvent.objects.filter(consent=world.consent).exists()

    response = web.post(url, {"reason": "I no longer want my portraits used"})
    assert response.status_code == 302
    page = web.get(f"/portal/consents/{world.consent.pk}/").content.decode()
    assert "What the revocation changed" in page and "I no longer want my portraits used" in page
    assert str(world.asset.pk) in page and str(world.snapshot.pk) in page and "Revoke consent" not in page

    again = web.post(url, {"reason": "twice"})
    assert again.status_code == 409 and "already revoked" in again.content.decode()
    assert web.get(url).status_code == 409


def test_another_contributors_consent_answers_404_and_a_forged_revocation_changes_nothing(world, other_contributor):
    web = client(other_contributor)
    consent = world.consent
    for path in ("", "revoke/", "download/"):
        assert web.get(f"/portal/consents/{consent.pk}/{path}").status_code == 404
    assert web.post(f"/portal/consents/{consent.pk}/revoke/", {"reason": "forged"}).status_code == 404
    assert not ConsentEvent.objects.filter(consent=consent).exists()
    assert Asset.objects.get(pk=world.asset.pk).status == AssetStatus.APPROVED
    assert Contributor.objects.get(email="otto@example.com").consents.count() == 0
