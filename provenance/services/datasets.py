from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor, Role, require_role
from provenance.models import ConsentScope, Dataset


def parse_scopes(scopes: list[str] | str) -> list[str]:
    items = [s.strip() for s in scopes.split(",")] if isinstance(scopes, str) else [s.strip() for s in scopes]
    items = [s for s in items if s]
    unknown = [s for s in items if s not in ConsentScope.values]
    if not items or unknown:
        raise ApplicationError(
            f"scopes must be a non-empty list of {', '.join(ConsentScope.values)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            code="invalid_scopes",
        )
    return sorted(set(items))


def dataset_create(*, slug: str, scopes: list[str] | str, name: str = "", actor: Actor = None) -> Dataset:
    """Create a dataset whose every member needs consent for `scopes`."""
    require_role(actor, Role.OPERATOR, Role.ML_ENGINEER, action="create datasets")
    try:
        validate_slug(slug)
    except ValidationError:
        raise ApplicationError(f"{slug!r} is not a slug (letters, digits, - and _)", code="invalid_slug") from None
    scopes = parse_scopes(scopes)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                slug=slug, name=name or slug, scopes=scopes, created_by=str(getattr(actor, "username", actor) or "system")
            )
            audit_append(
                actor=actor, event_type=EventType.DATASET_CREATED, subject=dataset, details={"slug": slug, "scopes": scopes}
            )
    except IntegrityError:
        raise ApplicationError(f"a dataset with slug {slug!r} already exists", code="dataset_exists", status=409) from None
    return dataset
