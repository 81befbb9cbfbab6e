"""Claims: opening an asset to review it holds it for that reviewer for a few minutes
(`CLEANROOM_REVIEW_CLAIM_SECONDS`), renewed while they work on it. Another reviewer sees who
holds it and cannot decide its findings until the claim is released or lapses."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from auditing.models import AssetClaim
from core.audit import actor_name
from core.exceptions import ApplicationError, NotFound, PermissionDenied
from core.roles import Actor, Role, actor_user, has_role
from provenance.models import Asset


def asset_claim(*, asset_id, reviewer: Actor) -> AssetClaim:
    """Hold the asset for `reviewer` (or renew their hold); refused (`claimed`, 409) while
    another reviewer holds it."""
    user = actor_user(reviewer)
    if user is None or not has_role(user, Role.REVIEWER):
        raise PermissionDenied(f"{actor_name(reviewer)} is not a reviewer")
    now = timezone.now()
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None:
            raise NotFound(f"no asset with id {asset_id!r}", code="unknown_asset")
        held = AssetClaim.objects.select_related("reviewer").filter(asset=asset).first()
        if held is not None and held.reviewer_id != user.pk and held.expires_at > now:
            raise claimed_refusal(held)
        claim, _ = AssetClaim.objects.update_or_create(
            asset=asset,
            defaults={
                "reviewer": user,
                "claimed_at": now if held is None or held.reviewer_id != user.pk else held.claimed_at,
                "expires_at": now + timedelta(seconds=settings.CLEANROOM_REVIEW_CLAIM_SECONDS),
            },
        )
    return claim


def asset_release(*, asset_id, reviewer: Actor) -> None:
    """Let go of the reviewer's own hold (moving on to the next asset); anyone else's stays."""
    user = actor_user(reviewer)
    if user is not None:
        AssetClaim.objects.filter(asset_id=asset_id, reviewer=user).delete()


def claim_holder(asset_id) -> AssetClaim | None:
    """The live claim on the asset, if any."""
    return AssetClaim.objects.select_related("reviewer").filter(asset_id=asset_id, expires_at__gt=timezone.now()).first()


def claimed_refusal(claim: AssetClaim) -> ApplicationError:
    return ApplicationError(
        f"{claim.reviewer.get_username()} is reviewing this image until {timezone.localtime(claim.expires_at):%H:%M}; "
        "pick another one, or come back then",
        code="claimed",
        status=409,
        extra={"held_by": claim.reviewer.get_username(), "until": claim.expires_at.isoformat()},
    )


def refuse_if_claimed_by_another(*, asset_id, reviewer: Actor) -> None:
    """A decision on an asset someone else holds is refused (the caller holds the row locks)."""
    claim = claim_holder(asset_id)
    user = actor_user(reviewer)
    if claim is not None and (user is None or claim.reviewer_id != user.pk):
        raise claimed_refusal(claim)


def holders_other_than(*, asset_ids, reviewer: Actor) -> dict:
    """Who holds each of these assets now, among reviewers other than `reviewer`: asset id to
    username (a bulk decision skips them, as a single decision is refused)."""
    user = actor_user(reviewer)
    live = AssetClaim.objects.filter(asset_id__in=asset_ids, expires_at__gt=timezone.now())
    if user is not None:
        live = live.exclude(reviewer=user)
    return dict(live.values_list("asset_id", "reviewer__username"))
