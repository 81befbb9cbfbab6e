"""Four eyes, one rule: two distinct reviewers, neither the creator. Snapshots and base models
(and the review UI, later) all go through `core.four_eyes.FourEyes`."""

from __future__ import annotations

import pytest

from core.exceptions import ApplicationError, PermissionDenied
from provenance.models import SnapshotStatus
from provenance.selectors import snapshot_approvals
from provenance.services.snapshots import SNAPSHOT_REVIEW, snapshot_approve, snapshot_create, snapshot_reject
from tests.provenance.factories import AssetFactory, DatasetFactory, add_to_dataset
from training.services.base_models import BASE_MODEL_REVIEW

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot_id(ml_engineer) -> str:
    dataset = DatasetFactory(slug="faces")
    add_to_dataset(dataset, AssetFactory(), AssetFactory())
    return str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)


def test_snapshots_and_base_models_share_the_rule():
    assert (SNAPSHOT_REVIEW.required, BASE_MODEL_REVIEW.required) == (2, 2)
    assert type(SNAPSHOT_REVIEW) is type(BASE_MODEL_REVIEW)


def test_the_creator_cannot_review_even_with_the_reviewer_role(snapshot_id, ml_engineer):
    from django.contrib.auth import get_user_model

    from core.users import user_add

    user_add(username=ml_engineer.username, role="reviewer")
    builder = get_user_model().objects.get(pk=ml_engineer.pk)  # roles are read once per user object
    with pytest.raises(PermissionDenied, match="the person who built a snapshot cannot review it"):
        snapshot_approve(snapshot_id=snapshot_id, reviewer=builder)


def test_someone_without_the_reviewer_role_cannot_review(snapshot_id, compliance):
    with pytest.raises(PermissionDenied, match="cora is not a reviewer"):
        snapshot_approve(snapshot_id=snapshot_id, reviewer=compliance)


def test_one_reviewer_approving_twice_is_still_one_approval(snapshot_id, reviewer):
    assert snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer).status == SnapshotStatus.IN_REVIEW
    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    assert refused.value.code == "already_approved_by_you"


def test_two_distinct_reviewers_approve(snapshot_id, reviewer, second_reviewer):
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    approved = snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    assert (approved.status, snapshot_approvals(approved)) == ("approved", ["rita", "ravi"])


def test_a_rejection_needs_a_reason_and_ends_the_review(snapshot_id, reviewer, second_reviewer):
    with pytest.raises(ApplicationError) as refused:
        snapshot_reject(snapshot_id=snapshot_id, reviewer=reviewer, reason="  ")
    assert refused.value.code == "reason_required"

    snapshot_reject(snapshot_id=snapshot_id, reviewer=reviewer, reason="one image is not ours")
    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    assert refused.value.code == "not_in_review"
