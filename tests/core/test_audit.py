from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from core.audit import GENESIS_HASH, audit_append, auditlog_verify
from core.models import AuditChainHead, AuditEvent, EventType


def _append(n: int, actor: str = "tester") -> None:
    for i in range(n):
        with transaction.atomic():
            audit_append(
                actor=actor,
                event_type=EventType.DATASET_CREATED,
                subject=("dataset", str(i)),
                details={"i": i, "note": "ünïcode"},
            )


@pytest.mark.django_db
def test_an_untouched_chain_verifies():
    _append(5)
    report = auditlog_verify()
    assert report.valid and report.events == 5 and report.first_bad_event is None


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        audit_append(actor="x", event_type=EventType.DATASET_CREATED, subject=("dataset", "1"))


@pytest.mark.django_db
def test_a_row_altered_behind_the_applications_back_is_found():
    _append(5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET actor = 'mallory' WHERE seq = 3")
    report = auditlog_verify()
    assert not report.valid and report.first_bad_event == 3


@pytest.mark.django_db
def test_altered_details_are_found_even_with_reordered_json_keys():
    _append(3)
    with connection.cursor() as cursor:
        cursor.execute("""UPDATE core_auditevent SET details = '{"note": "ünïcode", "i": 99}' WHERE seq = 2""")
    assert auditlog_verify().first_bad_event == 2


@pytest.mark.django_db
def test_a_deleted_row_is_found():
    _append(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE seq = 2")
    report = auditlog_verify()
    assert not report.valid and report.first_bad_event == 2


@pytest.mark.django_db
def test_deleting_the_newest_rows_is_found():
    _append(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE seq >= 4")
    report = auditlog_verify()
    assert not report.valid and report.first_bad_event == 4


@pytest.mark.django_db
def test_a_row_inserted_behind_the_applications_back_is_found():
    _append(3)
    last = AuditEvent.objects.get(seq=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_auditevent (seq, created_at, actor, event_type, subject_type, subject_id, details, prev_hash, hash)"
            " VALUES (4, now(), 'mallory', 'dataset.created', 'dataset', 'x', '{}', %s, %s)",
            [last.hash, "f" * 64],
        )
    report = auditlog_verify()
    assert not report.valid and report.first_bad_event == 4


@pytest.mark.django_db
def test_a_forged_but_well_hashed_tail_is_found_by_the_head():
    """A forger who recomputes hashes still has to move the head row the appenders lock."""
    _append(2)
    with transaction.atomic():
        audit_append(actor="x", event_type=EventType.DATASET_CREATED, subject=("dataset", "3"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditchainhead SET seq = 2")
    assert auditlog_verify().first_bad_event == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("head_exists", [True, False], ids=["head_row", "fresh_database"])
def test_concurrent_appenders_never_fork_the_chain(head_exists):
    """Real concurrent transactions on PostgreSQL, one connection per thread.

    On a fresh (or flushed) database the head row does not exist yet, and the appenders
    race to create it: the losers must wait for the winner, not report a missing head.
    """
    assert connection.vendor == "postgresql"
    if head_exists:
        AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
    else:
        AuditChainHead.objects.all().delete()
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            _append(25, actor=name)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(f"worker{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 101))
    report = auditlog_verify()
    assert report.valid and report.events == 100
