from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from core.roles import Actor, Role, has_role, user_roles
from provenance.models.assets import Asset
from provenance.models.contributors import Contributor


class DatasetQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> DatasetQuerySet:
        roles = user_roles(user)
        if roles & {Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.ML_ENGINEER}:
            return self.all()
        if has_role(user, Role.CONTRIBUTOR):  # `roles` again (cached), and `user` is then a User
            return self.enrolled(Contributor.objects.filter(user=user))
        return self.none()

    def enrolled(self, contributors: models.QuerySet[Contributor]) -> DatasetQuerySet:
        """The datasets these contributors are enrolled in: the only ones a contributor sees, and
        the only ones their own uploads may enter (`provenance.services.datasets.dataset_for_ingest`)."""
        return self.filter(enrolments__contributor__in=contributors).distinct()


class Dataset(TimeStampedModel):
    """A curated, mutable collection of assets; every member needs consent for `scopes`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    scopes = models.JSONField()
    created_by = models.CharField(max_length=150)
    assets: models.ManyToManyField[Asset, DatasetMembership] = models.ManyToManyField(
        Asset, through="DatasetMembership", related_name="datasets"
    )

    objects = DatasetQuerySet.as_manager()

    def __str__(self) -> str:
        return self.slug


class DatasetMembership(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="memberships")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="memberships")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "asset"], name="asset_once_per_dataset")]

    def __str__(self) -> str:
        return f"asset {self.asset_id} in dataset {self.dataset_id}"


class DatasetEnrolment(models.Model):
    """A contributor whose files the dataset accepts. Enrolled and unenrolled by an ML engineer
    or an operator (`provenance.services.datasets`), each change in the audit log; unenrolling
    deletes the row, and the log keeps the history."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="enrolments")
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="enrolments")
    enrolled_at = models.DateTimeField(default=timezone.now)
    enrolled_by = models.CharField(max_length=150)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "contributor"], name="contributor_enrolled_once_per_dataset")]

    def __str__(self) -> str:
        return f"contributor {self.contributor_id} enrolled in dataset {self.dataset_id}"
