"""Enrolment: the contributors whose files a dataset accepts, chosen by an ML engineer or an
operator, each change in the audit log; a contributor sees and ingests into those datasets only."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.audit import auditlog_verify
from core.exceptions import ApplicationError, PermissionDenied
from core.models import AuditEvent, EventType
from provenance.api.serializers import IngestResultSerializer
from provenance.models import ConsentRecord, Dataset, DatasetEnrolment
from provenance.services.contributors import contributor_get
from provenance.services.datasets import dataset_create, dataset_enrol, dataset_unenrol
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import grant_consent, ingest, jpeg, write_consent, write_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(operator) -> Dataset:
    return dataset_create(slug="faces", scopes=["ai_training"], actor=operator)


@pytest.fixture
def carla(contributor):
    return contributor_get(email="carla@example.com")


def enrolment_events() -> list[tuple[str, str, dict]]:
    types = [EventType.DATASET_CONTRIBUTOR_ENROLLED, EventType.DATASET_CONTRIBUTOR_UNENROLLED]
    return [(e.event_type, e.actor, e.details) for e in AuditEvent.objects.filter(event_type__in=types).order_by("seq")]


def dataset_command(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("dataset", *args, "--json", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def test_enrolling_and_unenrolling_are_each_one_audit_event_and_repeating_them_writes_nothing(
    dataset, carla, ml_engineer, operator
):
    first = dataset_enrol(dataset=dataset, contributor=carla, actor=ml_engineer, reason="carla shoots the faces")
    again = dataset_enrol(dataset=dataset, contributor=carla, actor=operator)
    removed = dataset_unenrol(dataset=dataset, contributor=carla, actor=operator, reason="contract ended")
    removed_again = dataset_unenrol(dataset=dataset, contributor=carla, actor=ml_engineer)

    assert [(c.enrolled, c.changed) for c in (first, again, removed, removed_again)] == [
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    ]
    who = {"dataset": "faces", "contributor": "carla@example.com", "contributor_id": str(carla.pk)}
    assert enrolment_events() == [
        (EventType.DATASET_CONTRIBUTOR_ENROLLED, "mel", {**who, "reason": "carla shoots the faces"}),
        (EventType.DATASET_CONTRIBUTOR_UNENROLLED, "opal", {**who, "reason": "contract ended"}),
    ]
    assert not DatasetEnrolment.objects.exists()
    assert auditlog_verify().valid


@pytest.mark.parametrize("persona", ["contributor", "reviewer", "compliance", "product", "outsider"])
def test_only_ml_engineers_and_operators_enrol_or_unenrol(persona, dataset, carla, request):
    someone = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        dataset_enrol(dataset=dataset, contributor=carla, actor=someone)
    dataset_enrol(dataset=dataset, contributor=carla, actor=request.getfixturevalue("ml_engineer"))
    with pytest.raises(PermissionDenied):
        dataset_unenrol(dataset=dataset, contributor=carla, actor=someone)

    assert DatasetEnrolment.objects.filter(dataset=dataset, contributor=carla).exists()


def test_a_contributor_sees_only_the_datasets_they_are_enrolled_in_and_keeps_their_assets_when_unenrolled(
    dataset, carla, contributor, other_contributor, ml_engineer, operator
):
    dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    ingest(contributor, dataset, consent, jpeg("a.jpg", seed=1))  # enrols carla in `faces`

    assert list(Dataset.objects.visible_to(contributor).values_list("slug", flat=True)) == ["faces"]
    assert not Dataset.objects.visible_to(other_contributor).exists()

    dataset_unenrol(dataset=dataset, contributor=carla, actor=ml_engineer)

    assert not Dataset.objects.visible_to(contributor).exists()
    assert dataset.assets.filter(contributor=carla).count() == 1


def test_an_unenrolled_contributor_can_no_longer_ingest(dataset, carla, contributor, ml_engineer):
    consent = grant_consent(contributor, "carla@example.com")
    ingest(contributor, dataset, consent, jpeg("a.jpg", seed=1))
    dataset_unenrol(dataset=dataset, contributor=carla, actor=ml_engineer)

    with pytest.raises(ApplicationError) as refused:
        ingest(contributor, dataset, consent, jpeg("b.jpg", seed=2), enrol=False)

    assert (refused.value.code, refused.value.status, refused.value.message) == (
        "unknown_dataset",
        404,
        "no dataset with slug 'faces'",
    )
    assert dataset.assets.count() == 1


def test_a_contributor_ingesting_paths_into_a_dataset_they_are_not_in_is_refused_before_anything_is_recorded(
    dataset, contributor, tmp_path
):
    consent_path = write_consent(tmp_path / "consent", contributor="carla@example.com")
    image = write_image(tmp_path / "in" / "a.jpg", seed=1)
    events_before = AuditEvent.objects.count()

    with pytest.raises(ApplicationError) as refused:
        ingest_paths(
            paths=[str(image)],
            dataset_slug="faces",
            contributor_email="carla@example.com",
            consent_path=str(consent_path),
            actor=contributor,
        )

    assert refused.value.code == "unknown_dataset"
    assert not ConsentRecord.objects.exists()
    assert AuditEvent.objects.count() == events_before


def test_the_command_line_ingesting_on_a_contributors_behalf_enrols_them_on_the_record(dataset, carla, tmp_path):
    consent_path = write_consent(tmp_path / "consent", contributor="carla@example.com")
    image = write_image(tmp_path / "in" / "a.jpg", seed=1)
    options = {"dataset_slug": "faces", "contributor_email": "carla@example.com", "consent_path": str(consent_path)}

    first = IngestResultSerializer(ingest_paths(paths=[str(image)], **options)).data
    ingest_paths(paths=[str(write_image(tmp_path / "in" / "b.jpg", seed=2))], **options)

    assert len(first["accepted"]) == 1
    enrolment = DatasetEnrolment.objects.get(dataset=dataset, contributor=carla)
    assert enrolment.enrolled_by == "system"
    [(event_type, actor, details)] = enrolment_events()
    assert (event_type, actor, details["reason"]) == (
        EventType.DATASET_CONTRIBUTOR_ENROLLED,
        "system",
        "ingested on the contributor's behalf",
    )


def test_a_refused_command_line_ingest_enrols_nobody(dataset, carla, tmp_path):
    unreadable = tmp_path / "consent.json"
    unreadable.write_text("{ not json")

    with pytest.raises(ApplicationError):
        ingest_paths(
            paths=[str(write_image(tmp_path / "a.jpg", seed=1))],
            dataset_slug="faces",
            contributor_email="carla@example.com",
            consent_path=str(unreadable),
        )

    assert not DatasetEnrolment.objects.exists() and enrolment_events() == []


def test_dataset_enrol_and_unenrol_answer_json_on_the_command_line(dataset, carla):
    code, enrolled = dataset_command("enrol", "faces", "--contributor", "Carla@Example.com", "--reason", "new shoot")
    _, again = dataset_command("enrol", "faces", "--contributor", "carla@example.com")
    _, unenrolled = dataset_command("unenrol", "faces", "--contributor", "carla@example.com")

    who = {"dataset_id": str(dataset.pk), "slug": "faces", "contributor_id": str(carla.pk), "contributor": "carla@example.com"}
    assert code == 0
    assert enrolled == {**who, "enrolled": True, "changed": True}
    assert again == {**who, "enrolled": True, "changed": False}
    assert unenrolled == {**who, "enrolled": False, "changed": True}
    assert [(event_type, actor) for event_type, actor, _ in enrolment_events()] == [
        (EventType.DATASET_CONTRIBUTOR_ENROLLED, "system"),
        (EventType.DATASET_CONTRIBUTOR_UNENROLLED, "system"),
    ]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["enrol", "nowhere", "--contributor", "carla@example.com"], "unknown_dataset"),
        (["unenrol", "faces", "--contributor", "nobody@example.com"], "unknown_contributor"),
    ],
)
def test_dataset_enrol_refuses_an_unknown_dataset_or_contributor_with_exit_1(dataset, carla, args, code):
    exit_code, answer = dataset_command(*args)

    assert (exit_code, answer["code"]) == (1, code)
