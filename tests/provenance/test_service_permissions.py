"""Rules live in services, so the API, the CLI and the web UI cannot disagree about them."""

from __future__ import annotations

import pytest

from core.exceptions import PermissionDenied
from provenance.services.consent import consent_grant, read_consent_file
from provenance.services.contributors import contributor_add, contributor_get
from provenance.services.datasets import dataset_create
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db


def test_a_reviewer_cannot_create_datasets_but_an_ml_engineer_can(reviewer, ml_engineer):
    with pytest.raises(PermissionDenied):
        dataset_create(slug="nope", scopes=["ai_training"], actor=reviewer)
    assert dataset_create(slug="yes", scopes=["ai_training"], actor=ml_engineer).created_by == "mel"


def test_only_operators_register_contributors(contributor, operator):
    with pytest.raises(PermissionDenied):
        contributor_add(email="new@example.com", name="New", actor=contributor)
    assert contributor_add(email="new@example.com", name="New", actor=operator).email == "new@example.com"


def test_a_contributor_cannot_record_consent_for_someone_else(contributor, other_contributor, tmp_path):
    document, opener = read_consent_file(write_consent(tmp_path, contributor="otto@example.com"))
    with pytest.raises(PermissionDenied):
        consent_grant(
            document=document, contributor=contributor_get(email="otto@example.com"), open_evidence=opener, actor=contributor
        )
    consent, created = consent_grant(
        document=document, contributor=contributor_get(email="otto@example.com"), open_evidence=opener, actor=other_contributor
    )
    assert created and consent.recorded_by == "otto"


def test_the_command_line_acts_as_the_platform_operator(db, tmp_path):
    """actor=None is whoever runs manage.py: they already hold the database."""
    assert dataset_create(slug="cli", scopes=["ai_training"]).created_by == "system"
