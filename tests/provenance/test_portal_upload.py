"""The portal's upload service: files staged one by one, whole or not at all, then ingested as
one batch by a background job whose outcome is one row per file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.background import background_run
from core.exceptions import ApplicationError, NotFound
from core.models import BackgroundJobStatus
from provenance.models import Asset, UploadSession
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.portal_upload import (
    PART_PREFIX,
    staging_dir,
    upload_outcome,
    upload_process_start,
    upload_receive,
    upload_session_start,
    upload_sessions_sweep,
    upload_state,
)
from tests.provenance.factories import grant_consent, image_bytes
from tests.support.portal_uploads import mixed_batch, optout_jpeg, zip_bytes


@pytest.fixture
def carla(world, contributor):
    return contributor.contributor


@pytest.fixture
def session(world, carla) -> UploadSession:
    return upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=world.consent.pk)


def send(session: UploadSession, name: str, data: bytes):
    return upload_receive(session=session, name=name, upload=SimpleUploadedFile(name.rsplit("/", 1)[-1], data))


def process(session: UploadSession, actor) -> dict[str, tuple[bool, str, str]]:
    job = upload_process_start(session=session, actor=actor)
    finished = background_run(job.pk)
    assert finished.status == BackgroundJobStatus.SUCCEEDED, finished.status_reason
    session.refresh_from_db()
    return {row.name: (row.accepted, row.reason, row.detail) for row in upload_outcome(session)}


def test_a_mixed_batch_gets_one_row_per_file_with_the_reason_word(session, contributor, world):
    files = {
        **mixed_batch(8),
        "again.jpg": image_bytes(1),
        "set.zip": zip_bytes({"a.jpg": image_bytes(901), "b.jpg": image_bytes(902)}),
    }
    for name, data in files.items():
        send(session, name, data)

    rows = process(session, contributor)

    assert {name: reason for name, (accepted, reason, _) in rows.items() if not accepted} == {
        "optout.jpg": "optout",
        "notes.pdf": "unsupported_type",
        "empty.jpg": "invalid_image",
        "again.jpg": "duplicate",  # the world's carla.jpg: the same bytes
    }
    assert {name for name, (accepted, _, _) in rows.items() if accepted} == {
        *(f"photo-{index:02d}.jpg" for index in range(5)),
        "set.zip!a.jpg",
        "set.zip!b.jpg",
    }
    assert "DMI-PROHIBITED" in rows["optout.jpg"][2] or "data mining" in rows["optout.jpg"][2].lower()
    assert Asset.objects.filter(contributor__user=contributor).count() == 1 + 7
    assert upload_state(session) == "done"
    assert not staging_dir(session).exists()  # accepted ones live in the blob store, refused ones nowhere


def test_a_file_still_arriving_when_the_connection_dropped_never_becomes_an_image(session, contributor):
    send(session, "whole.jpg", image_bytes(910))
    half = staging_dir(session) / f"{PART_PREFIX}dropped"
    half.write_bytes(image_bytes(911)[:300])

    rows = process(session, contributor)

    assert list(rows) == ["whole.jpg"]
    assert not half.exists()


def test_a_file_sent_again_after_a_dropped_connection_is_kept_once(session, contributor):
    first = send(session, "holiday/beach.jpg", image_bytes(920))
    again = send(session, "holiday/beach.jpg", image_bytes(920))

    assert again.pk == first.pk
    assert session.files.count() == 1
    assert sorted(p.name for p in staging_dir(session).iterdir()) == [str(first.pk)]
    assert process(session, contributor) == {"holiday/beach.jpg": (True, "", "")}


def test_a_caption_beside_its_image_is_its_caption_not_a_file(session, contributor):
    send(session, "shoot/dawn.jpg", image_bytes(930))
    send(session, "shoot/dawn.txt", b"a harbour at dawn")

    assert process(session, contributor) == {"shoot/dawn.jpg": (True, "", "")}
    assert Asset.objects.get(original_name="dawn.jpg").caption == "a harbour at dawn"


def test_a_consent_revoked_before_processing_refuses_every_file(session, contributor, world):
    send(session, "late.jpg", image_bytes(940))
    consent_revoke(consent_id=str(world.consent.pk), actor=contributor, reason="changed my mind")

    rows = process(session, contributor)

    assert rows["late.jpg"][:2] == (False, "no_consent")


def test_another_contributors_consent_does_not_exist_for_them(world, other_contributor):
    otto = other_contributor.contributor
    with pytest.raises(NotFound):
        upload_session_start(contributor=otto, dataset_id=world.dataset.pk, consent_id=world.consent.pk)


def test_a_dataset_the_contributor_is_not_enrolled_in_is_refused_in_words(world, carla, operator):
    elsewhere = dataset_create(slug="elsewhere", scopes=["ai_training"], actor=operator)
    with pytest.raises(ApplicationError, match="You may not add images to that dataset") as refused:
        upload_session_start(contributor=carla, dataset_id=elsewhere.pk, consent_id=world.consent.pk)
    assert refused.value.code == "unknown_dataset"


def test_a_consent_that_does_not_cover_the_datasets_scopes_is_refused_before_any_byte(world, carla, contributor, operator):
    from provenance.services.datasets import dataset_enrol

    wider = dataset_create(slug="likeness-set", scopes=["ai_training", "likeness"], actor=operator)
    dataset_enrol(dataset=wider, contributor=carla, actor=operator)
    with pytest.raises(ApplicationError, match="likeness") as refused:
        upload_session_start(contributor=carla, dataset_id=wider.pk, consent_id=world.consent.pk)
    assert refused.value.code == "no_consent"


def test_an_upload_takes_at_most_the_configured_number_of_files(session, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    send(session, "one.jpg", image_bytes(950))
    send(session, "two.jpg", image_bytes(951))
    with pytest.raises(ApplicationError, match="at most 2 files"):
        send(session, "three.jpg", image_bytes(952))
    assert session.files.count() == 2


def test_processing_twice_is_one_job_and_a_processed_upload_takes_no_more_files(session, contributor):
    send(session, "one.jpg", image_bytes(960))
    first = upload_process_start(session=session, actor=contributor)
    assert upload_process_start(session=session, actor=contributor).pk == first.pk
    with pytest.raises(ApplicationError, match="already being processed"):
        send(session, "two.jpg", image_bytes(961))


def test_nothing_to_process_is_said_plainly(session, contributor):
    with pytest.raises(ApplicationError, match="No file has arrived yet"):
        upload_process_start(session=session, actor=contributor)


def test_a_second_consent_of_carla_may_be_chosen(world, carla, contributor):
    second = grant_consent(contributor, "carla@example.com", evidence_bytes=b"%PDF-1.4 another form")
    session = upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=second.pk)
    send(session, "optout.jpg", optout_jpeg(970))
    assert process(session, contributor)["optout.jpg"][:2] == (False, "optout")


def test_an_upload_left_unprocessed_is_abandoned_and_its_staged_files_removed(world, carla, contributor, settings):
    settings.CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS = 24
    old = upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=world.consent.pk)
    send(old, "sent.jpg", image_bytes(960))
    (staging_dir(old) / f"{PART_PREFIX}dropped").write_bytes(b"half a file")
    recent = upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=world.consent.pk)
    send(recent, "sent.jpg", image_bytes(961))
    processed = upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=world.consent.pk)
    send(processed, "sent.jpg", image_bytes(962))
    process(processed, contributor)
    a_day_ago = timezone.now() - timedelta(hours=24, minutes=1)
    UploadSession.objects.filter(pk__in=[old.pk, processed.pk]).update(created_at=a_day_ago)
    old.files.update(received_at=a_day_ago)
    processed.files.update(received_at=a_day_ago)

    assert upload_sessions_sweep() == [str(old.pk)]

    old.refresh_from_db()
    assert upload_state(old) == "abandoned" and not staging_dir(old).exists()
    assert upload_state(recent) == "receiving" and staging_dir(recent).exists()
    with pytest.raises(ApplicationError, match="left unfinished for more than 24 hours") as late_file:
        send(old, "late.jpg", image_bytes(963))
    assert late_file.value.code == "abandoned"
    with pytest.raises(ApplicationError, match="start a new upload"):
        upload_process_start(session=old, actor=contributor)
    assert upload_sessions_sweep() == []  # abandoned once


def test_a_file_received_lately_keeps_an_old_upload_open(world, carla, settings):
    session = upload_session_start(contributor=carla, dataset_id=world.dataset.pk, consent_id=world.consent.pk)
    UploadSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=3))
    send(session, "just-now.jpg", image_bytes(964))

    assert upload_sessions_sweep() == []
    assert upload_state(UploadSession.objects.get(pk=session.pk)) == "receiving"
