from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from core.roles import Actor, Role, user_roles
from provenance.models.assets import Asset


class DatasetQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> DatasetQuerySet:
        roles = user_roles(user)
        if roles & {Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.ML_ENGINEER}:
            return self.all()
        if Role.CONTRIBUTOR in roles:
            return self.filter(memberships__asset__contributor__user=user).distinct()
        return self.none()


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
