from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from core.audit import actor_name, audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor, Role, has_role, require_role
from provenance.models import ConsentScope, Contributor, Dataset, DatasetEnrolment
from provenance.selectors import dataset_get

# Who decides which contributors' files a dataset accepts.
ENROLLERS = (Role.ML_ENGINEER, Role.OPERATOR)


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


@dataclass(frozen=True)
class EnrolmentChange:
    """What an enrol or unenrol did: `enrolled` is the contributor's standing afterwards and
    `changed` whether this call changed it (each change is one audit event)."""

    dataset: Dataset
    contributor: Contributor
    enrolled: bool
    changed: bool


def dataset_enrol(*, dataset: Dataset, contributor: Contributor, actor: Actor = None, reason: str = "") -> EnrolmentChange:
    """Let `contributor` see `dataset` and ingest into it, on the record. Enrolling a contributor
    who is already enrolled changes nothing and writes nothing."""
    require_role(actor, *ENROLLERS, action="enrol contributors in datasets")
    with transaction.atomic():
        _, created = DatasetEnrolment.objects.get_or_create(
            dataset=dataset, contributor=contributor, defaults={"enrolled_by": actor_name(actor)}
        )
        if created:
            _audit_enrolment(EventType.DATASET_CONTRIBUTOR_ENROLLED, dataset, contributor, actor, reason)
    return EnrolmentChange(dataset=dataset, contributor=contributor, enrolled=True, changed=created)


def dataset_unenrol(*, dataset: Dataset, contributor: Contributor, actor: Actor = None, reason: str = "") -> EnrolmentChange:
    """Stop `contributor` seeing `dataset` and ingesting into it, on the record. Their assets
    already in it stay: whether a snapshot takes them is its consent's business. Unenrolling a
    contributor who is not enrolled changes nothing and writes nothing."""
    require_role(actor, *ENROLLERS, action="unenrol contributors from datasets")
    with transaction.atomic():
        deleted, _ = DatasetEnrolment.objects.filter(dataset=dataset, contributor=contributor).delete()
        if deleted:
            _audit_enrolment(EventType.DATASET_CONTRIBUTOR_UNENROLLED, dataset, contributor, actor, reason)
    return EnrolmentChange(dataset=dataset, contributor=contributor, enrolled=False, changed=bool(deleted))


def dataset_for_ingest(*, slug: str, contributor_email: str, actor: Actor) -> Dataset:
    """The dataset the contributor's files are to enter. A contributor's own upload enters only a
    dataset they are enrolled in; any other answers exactly as an unknown slug does
    (`unknown_dataset`, 404), so that neither its existence nor its scopes leak. Whoever may
    enrol (an ML engineer, an operator, the command line) ingests on a contributor's behalf."""
    if _may_enrol(actor):
        return dataset_get(slug=slug)
    contributor = Contributor.objects.filter(email=contributor_email.strip().lower())
    return dataset_get(slug=slug, among=Dataset.objects.enrolled(contributor))


def dataset_enrol_for_ingest(*, dataset: Dataset, contributor: Contributor, actor: Actor) -> None:
    """An ML engineer or operator ingesting a contributor's files enrols them in the dataset, on
    the record, so its enrolments name everyone whose files it holds. Called once the request
    has passed every other check; a contributor's own upload enrols nobody."""
    if _may_enrol(actor):
        dataset_enrol(dataset=dataset, contributor=contributor, actor=actor, reason="ingested on the contributor's behalf")


def _may_enrol(actor: Actor) -> bool:
    return actor is None or has_role(actor, *ENROLLERS)


def _audit_enrolment(event_type: EventType, dataset: Dataset, contributor: Contributor, actor: Actor, reason: str) -> None:
    details = {"dataset": dataset.slug, "contributor": contributor.email, "contributor_id": str(contributor.pk)}
    if reason:
        details["reason"] = reason
    audit_append(actor=actor, event_type=event_type, subject=dataset, details=details)
