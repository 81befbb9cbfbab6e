"""CLEANROOM_AUDITORS through the core registry: short names, dotted paths, clear refusals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from auditing.auditors.synthetic import SyntheticAuditor
from auditing.registry import auditors, current_versions


def test_auditors_are_named_by_short_name_or_dotted_path(settings):
    settings.CLEANROOM_AUDITORS = ["synthetic", "tests.auditing.auditors.SlowAuditor"]

    (synthetic, slow) = auditors()

    assert type(synthetic) is SyntheticAuditor and slow.name == "slow"
    assert current_versions() == {"synthetic": SyntheticAuditor.version, "slow": "1"}


def test_an_unknown_auditor_names_the_setting_and_the_known_auditors(settings):
    settings.CLEANROOM_AUDITORS = ["synthetic", "watermark"]

    with pytest.raises(ImproperlyConfigured, match=r"CLEANROOM_AUDITORS: unknown auditor backend 'watermark'") as refused:
        current_versions()
    assert "known: near_duplicate, nsfw, pii, synthetic" in str(refused.value)


def test_a_class_that_is_not_an_auditor_is_refused(settings):
    settings.CLEANROOM_AUDITORS = ["auditing.detectors.faces.haar.HaarFaces"]

    with pytest.raises(ImproperlyConfigured, match=r"is not a auditing\.auditors\.base\.Auditor"):
        auditors()
