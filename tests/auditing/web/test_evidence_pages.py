"""The evidence on the asset page as the server renders it (what a reader without JavaScript
gets): a near-duplicate's two images with the matched region outlined on each, the comparison
tools waiting for the script, and which signal said an image was generated."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from skimage import data as samples

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from tests.auditing.factories import NEAR_DUPLICATE_AUDITOR, flagged_finding, near_duplicate_finding
from tests.provenance.factories import ingest

pytestmark = pytest.mark.django_db


def page_of(user, asset_id) -> str:
    web = Client()
    web.force_login(user)
    response = web.get(f"/review/assets/{asset_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_near_duplicate_page_outlines_the_region_on_both_images_without_javascript(
    settings, tmp_path, contributor, world, reviewer
):
    finding = near_duplicate_finding(settings, tmp_path, contributor, world.dataset, world.consent)

    page = page_of(reviewer, finding.asset_id)

    assert len(re.findall(r'<polygon class="overlay__region" points="[\d., ]+"', page)) == 2
    assert 'aria-label="Outline of the matched region on this image"' in page
    assert f'alt="Image {finding.asset_id} under review"' in page
    assert 'alt="The protected work it resembles, owned by Acme Pictures"' in page
    assert re.search(r'data-homography="[-\d.e,]+"', page)
    # The overlay image and the tools wait, hidden, for the script that works them.
    assert re.search(r'<img class="compare__overlay" src="/images/protected/[\w-]+/" alt="" hidden', page)
    assert re.search(r'<div class="compare__tools" role="group" aria-label="Compare the two images" hidden>', page)
    assert "This image: all of it appears in the protected work" in page


def test_a_copy_within_the_dataset_is_shown_beside_the_image_it_copies(settings, contributor, world, reviewer):
    settings.CLEANROOM_AUDITORS = [NEAR_DUPLICATE_AUDITOR]
    photo = samples.astronaut()

    def upload(name: str, pixels) -> str:
        buffer = io.BytesIO()
        Image.fromarray(pixels).convert("RGB").save(buffer, "JPEG", quality=85)
        result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile(name, buffer.getvalue(), "image/jpeg"))
        asset_id = result["accepted"][0]["asset_id"]
        audits_request(asset_ids=[asset_id])
        asset_audit_run(asset_id=asset_id, task_id=f"test-{name}")
        return asset_id

    first = upload("first.jpg", photo)
    copy = upload("copy.jpg", photo[30:480, 10:500])
    finding = Finding.objects.get(asset_id=copy, code="near_duplicate.within_dataset")
    assert finding.details["asset_id"] == first and finding.details["reference_size"] == [512, 512]

    page = page_of(reviewer, copy)

    assert f'<img src="/images/assets/{first}/" alt="Image {first} of the same dataset, which it resembles"' in page
    assert len(re.findall(r'<polygon class="overlay__region"', page)) == 2
    assert "the outlined part, " in page and "% of it, is what this image shows" in page


def test_a_generated_image_says_which_signal_said_so(settings, contributor, world, reviewer):
    finding = flagged_finding(settings, contributor, world.dataset, world.consent, seed=71)

    page = page_of(reviewer, finding.asset_id)

    # Ingest read the IPTC digital source type from the XMP into the asset's metadata.
    assert "The digital source type in the image&#x27;s own metadata (IPTC, read at upload) says it was made" in page
    assert "(trainedAlgorithmicMedia)" in page
