"""core.bulk.bulk_insert: rows reach the table exactly as given, whatever characters they hold."""

from __future__ import annotations

import pytest

from core.bulk import bulk_insert
from core.models import AuditEvent

FIELDS = ("seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "prev_hash", "hash")
AWKWARD = ["tab\there", "line\nbreak", "back\\slash", "carriage\rreturn", "\\N", "ünïcode ✓", ""]


@pytest.mark.django_db
def test_text_with_copy_escapes_reads_back_unchanged() -> None:
    rows = [
        (
            number + 1,
            "2026-01-01T00:00:00.000001+00:00",
            actor,
            "asset.ingested",
            "asset",
            str(number),
            '{"a": 1}',
            "0",
            f"{number:064x}",
        )
        for number, actor in enumerate(AWKWARD)
    ]

    bulk_insert(AuditEvent, FIELDS, rows)

    stored = list(AuditEvent.objects.order_by("seq").values_list("actor", "details", "hash"))
    assert stored == [(actor, {"a": 1}, f"{number:064x}") for number, actor in enumerate(AWKWARD)]


@pytest.mark.django_db
def test_many_rows_arrive_in_blocks_without_loss() -> None:
    rows = (
        (number, "2026-01-01T00:00:00+00:00", "bench", "asset.ingested", "asset", str(number), "{}", "0", f"{number:064x}")
        for number in range(1, 25_001)
    )

    bulk_insert(AuditEvent, FIELDS, rows)

    assert AuditEvent.objects.count() == 25_000
    assert AuditEvent.objects.order_by("-seq").values_list("subject_id", flat=True).first() == "25000"


@pytest.mark.django_db
def test_a_value_that_is_not_database_ready_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        bulk_insert(AuditEvent, FIELDS, [(1, "2026-01-01T00:00:00+00:00", "a", "t", "s", "1", "{}", "0", 1.5)])
