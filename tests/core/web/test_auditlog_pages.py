"""The audit trail page (`/auditlog/`): who may open it, the log newest first a page at a time,
its filters, links to each event's subject, the decisions CSV, and `Verify chain`."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core.audit import AuditEntry, audit_append, audit_append_many
from core.background import background_run, job_url
from core.models import AuditEvent, BackgroundJob, EventType
from core.roles import Role
from core.users import user_add

pytestmark = pytest.mark.django_db

ASSET_ID = "5f0c7a3e-58a4-4f51-9a55-6c1d2b9b1e01"
EVIDENCE = "ab" * 32


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def append(event_type: EventType, subject: tuple[str, str], details: dict | None = None, actor: str = "rita") -> AuditEvent:
    with transaction.atomic():
        return audit_append(actor=actor, event_type=event_type, subject=subject, details=details)


def seqs_on(html: str) -> list[int]:
    """The event numbers in the table, in page order."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [int(seq) for seq in re.findall(r'<td class="num">(\d+)</td>', body)]


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# -- who may open it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("compliance", 200), ("operator", 200), ("reviewer", 403), ("ml_engineer", 403), ("contributor", 403)],
)
@pytest.mark.parametrize("path", ["/auditlog/", "/auditlog/decisions.csv"])
def test_the_audit_log_is_for_compliance_and_operators(persona, status, path, request) -> None:
    response = client_for(request.getfixturevalue(persona)).get(path)

    assert response.status_code == status


@pytest.mark.parametrize("path", ["/auditlog/", "/auditlog/decisions.csv"])
def test_an_anonymous_visitor_is_sent_to_log_in(path) -> None:
    response = client_for(None).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


@pytest.mark.parametrize(("persona", "status"), [("reviewer", 403), ("contributor", 403), ("compliance", 302)])
def test_only_compliance_and_operators_may_start_a_verification(persona, status, request) -> None:
    response = client_for(request.getfixturevalue(persona)).post("/auditlog/verify/")

    assert response.status_code == status


# -- the list --------------------------------------------------------------------------------------


def test_events_are_listed_newest_first_fifty_to_a_page_without_an_offset(compliance) -> None:
    with transaction.atomic():
        audit_append_many([AuditEntry("rita", EventType.DATASET_CREATED, ("dataset", f"set-{n}")) for n in range(120)])
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)
    client = client_for(compliance)

    first = client.get("/auditlog/", {"event_type": EventType.DATASET_CREATED})
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    with CaptureQueriesContext(connection) as queries:
        second = client.get(f"/auditlog/?{next_link}")

    assert seqs_on(first.content.decode()) == list(newest[:50])
    assert seqs_on(second.content.decode()) == list(newest[50:100])
    assert "120</strong> entries match" in first.content.decode()
    assert not any("OFFSET" in query["sql"].upper() for query in queries.captured_queries)


def test_the_last_page_offers_no_older_page(compliance) -> None:
    append(EventType.DATASET_CREATED, ("dataset", "only"))

    html = client_for(compliance).get("/auditlog/", {"event_type": EventType.DATASET_CREATED}).content.decode()

    assert "1</strong> entry matches" in html
    assert 'rel="next"' not in html


def test_past_ten_thousand_matches_the_count_says_more_than(compliance) -> None:
    with transaction.atomic():
        audit_append_many([AuditEntry("rita", EventType.DATASET_CREATED, ("dataset", f"s-{n}")) for n in range(10_001)])

    html = client_for(compliance).get("/auditlog/", {"event_type": EventType.DATASET_CREATED}).content.decode()

    assert "More than <strong>10,000</strong> entries match" in html
    assert len(seqs_on(html)) == 50


def test_filters_by_type_actor_subject_and_date(compliance) -> None:
    kept = append(EventType.FINDING_RESOLVED, ("finding", "f-1"), {"decision": "dismiss", "reason": "no"}, actor="ravi")
    append(EventType.FINDING_RESOLVED, ("finding", "f-2"), {"decision": "dismiss", "reason": "no"}, actor="rita")
    append(EventType.DATASET_CREATED, ("dataset", "f-1"), actor="ravi")
    client = client_for(compliance)
    today = timezone.now().date()

    by_type_and_actor = client.get("/auditlog/", {"event_type": EventType.FINDING_RESOLVED, "actor": "ravi"})
    by_subject = client.get("/auditlog/", {"subject_type": "finding", "subject_id": "f-1"})
    by_date = client.get("/auditlog/", {"actor": "ravi", "since": today, "until": today})
    before_today = client.get("/auditlog/", {"actor": "ravi", "until": today - timedelta(days=1)})

    assert seqs_on(by_type_and_actor.content.decode()) == [kept.seq]
    assert seqs_on(by_subject.content.decode()) == [kept.seq]
    assert seqs_on(by_date.content.decode()) == [kept.seq + 2, kept.seq]
    assert seqs_on(before_today.content.decode()) == []
    assert "No entry matches these filters." in before_today.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"actor": "x" * 151},
        {"subject_id": "9" * 5000},
        {"event_type": "asset.eaten"},
        {"since": "2026-13-45"},
        {"since": "2026-06-02", "until": "2026-06-01"},
        {"before": "abc"},
        {"before": "9" * 40},
        {"before": "-3"},
    ],
)
@pytest.mark.parametrize("path", ["/auditlog/", "/auditlog/decisions.csv"])
def test_a_filter_that_cannot_be_used_gets_a_message_and_no_events(path, query, compliance) -> None:
    append(EventType.DATASET_CREATED, ("dataset", "any"))

    response = client_for(compliance).get(path, query)

    html = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in html
    assert seqs_on(html) == []


def test_a_huge_but_valid_date_range_is_no_error(compliance) -> None:
    response = client_for(compliance).get("/auditlog/", {"since": "0001-01-01", "until": "9999-12-31"})

    assert response.status_code == 200


def test_details_are_shown_in_words_and_the_hash_shortened(compliance) -> None:
    event = append(EventType.FINDING_RESOLVED, ("finding", "f-9"), {"decision": "confirm", "reason": "a real face"})

    html = client_for(compliance).get("/auditlog/", {"subject_id": "f-9"}).content.decode()

    assert "<dt>decision</dt><dd>confirm</dd>" in html
    assert "<dt>reason</dt><dd>a real face</dd>" in html
    assert f"{event.hash[:12]}…</code>" in html
    assert f">{event.hash}<" not in html


# -- links to subjects ----------------------------------------------------------------------------


def test_an_asset_links_to_its_review_page_only_for_a_viewer_who_reviews(compliance) -> None:
    append(EventType.ASSET_REVIEWED, ("asset", ASSET_ID), {"decision": "reject", "reason": "no consent"})
    append(EventType.FINDING_RESOLVED, ("finding", "f-3"), {"asset_id": ASSET_ID, "decision": "dismiss", "reason": "ok"})
    asset_page = f'href="/review/assets/{ASSET_ID}/"'

    as_compliance = client_for(compliance).get("/auditlog/").content.decode()
    user_add(username=compliance.username, role=Role.REVIEWER)
    as_compliance_and_reviewer = client_for(compliance).get("/auditlog/").content.decode()

    assert asset_page not in as_compliance
    assert as_compliance_and_reviewer.count(asset_page) == 2


def test_a_snapshot_links_to_its_page_when_there_is_one_and_others_are_plain_text(compliance) -> None:
    snapshot_id = str(uuid.uuid4())
    append(EventType.SNAPSHOT_REVIEWED, ("snapshot", snapshot_id), {"decision": "approve"})
    append(EventType.DATASET_CREATED, ("dataset", "plain-text-set"))
    try:
        snapshot_page = reverse("snapshot-detail", args=[snapshot_id])
    except NoReverseMatch:
        snapshot_page = None  # the snapshot pages are not in this build: the id stays plain text

    html = client_for(compliance).get("/auditlog/").content.decode()

    assert (f'href="{snapshot_page}"' in html) if snapshot_page else (f"<code>{snapshot_id}</code>" in html)
    assert "<code>plain-text-set</code>" in html
    assert 'href="plain-text-set"' not in html


def test_a_tampered_subject_id_never_breaks_the_page(compliance) -> None:
    append(EventType.ASSET_REVIEWED, ("asset", "../../admin"), {"decision": "reject", "reason": "x"})
    user_add(username=compliance.username, role=Role.REVIEWER)

    response = client_for(compliance).get("/auditlog/")

    assert response.status_code == 200
    assert "<code>../../admin</code>" in response.content.decode()


# -- the decisions CSV -----------------------------------------------------------------------------


def test_the_csv_holds_the_decisions_of_the_filter_oldest_first(compliance) -> None:
    dismissed = append(
        EventType.FINDING_RESOLVED, ("finding", "f-1"), {"decision": "dismiss", "reason": "a false match", "sha256": EVIDENCE}
    )
    append(EventType.DATASET_CREATED, ("dataset", "not-a-decision"))
    approved = append(
        EventType.SNAPSHOT_STATUS_CHANGED, ("snapshot", "s-1"), {"from": "in_review", "to": "approved", "reason": "two approvals"}
    )
    append(EventType.ASSET_REVIEWED, ("asset", ASSET_ID), {"decision": "reject", "reason": "x"}, actor="ravi")

    response = client_for(compliance).get("/auditlog/decisions.csv", {"actor": "rita"})

    rows = csv_rows(response)
    day = timezone.now().date().isoformat()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="cleanroom-decisions-{day}.csv"'
    assert rows[0] == [
        "seq",
        "when",
        "who",
        "what",
        "subject type",
        "subject id",
        "decision",
        "reason",
        "evidence digest",
        "event hash",
    ]
    assert [row[0] for row in rows[1:]] == [str(dismissed.seq), str(approved.seq)]
    assert rows[1][1:] == [
        dismissed.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rita",
        "finding.resolved",
        "finding",
        "f-1",
        "dismiss",
        "a false match",
        EVIDENCE,
        dismissed.hash,
    ]
    assert rows[2][6:9] == ["approved", "two approvals", ""]


def test_the_page_names_the_kinds_of_event_that_are_decisions(compliance) -> None:
    html = client_for(compliance).get("/auditlog/").content.decode()

    for event_type in (EventType.FINDING_RESOLVED, EventType.SNAPSHOT_REVIEWED, EventType.BASE_MODEL_STATUS_CHANGED):
        assert f"<code>{event_type}</code>" in html
    assert 'href="/auditlog/decisions.csv"' in html


def test_the_csv_link_keeps_the_filters_but_not_the_page(compliance) -> None:
    html = client_for(compliance).get("/auditlog/", {"actor": "ravi", "before": "99"}).content.decode()

    assert 'href="/auditlog/decisions.csv?actor=ravi"' in html


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_made_text(cell, compliance) -> None:
    append(EventType.FINDING_RESOLVED, ("finding", "f-1"), {"decision": "dismiss", "reason": cell}, actor=cell)

    rows = csv_rows(client_for(compliance).get("/auditlog/decisions.csv"))

    assert rows[-1][2] == "'" + cell
    assert rows[-1][7] == "'" + cell


def test_the_csv_is_streamed(compliance) -> None:
    decision = {"decision": "dismiss", "reason": "fine"}
    with transaction.atomic():
        audit_append_many([AuditEntry("rita", EventType.FINDING_RESOLVED, ("finding", f"f-{n}"), decision) for n in range(2500)])

    response = client_for(compliance).get("/auditlog/decisions.csv")

    chunks = list(response.streaming_content)
    assert response.streaming
    assert len(chunks) >= 3
    assert sum(chunk.count(b"\n") for chunk in chunks) == 2501


# -- Verify chain ----------------------------------------------------------------------------------


def verify_from_the_page(user) -> str:
    """Press Verify chain, let the worker run the job, and return the job page's HTML."""
    client = client_for(user)
    started = client.post("/auditlog/verify/")
    assert started.status_code == 302
    job = BackgroundJob.objects.get(kind="auditlog_verify", requested_by=user)
    assert started["Location"] == job_url(job)
    background_run(job.pk)
    return client.get(started["Location"]).content.decode()


def test_verify_chain_on_an_untouched_log_says_valid(operator) -> None:
    append(EventType.DATASET_CREATED, ("dataset", "one"))

    html = verify_from_the_page(operator)

    # Every entry up to the job's own "running"; its "succeeded" came after the check.
    checked = AuditEvent.objects.count() - 1
    assert "<strong>valid</strong>" in html
    assert f"all {checked} entries" in html
    assert "invalid" not in html


def test_verify_chain_names_the_first_altered_event(compliance) -> None:
    for number in range(3):
        append(EventType.DATASET_CREATED, ("dataset", f"set-{number}"))
    altered = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[1]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET actor = 'mallory' WHERE seq = %s", [altered])

    html = verify_from_the_page(compliance)

    assert "<strong>invalid</strong>" in html
    assert f"the first bad entry is number <strong>{altered}</strong>" in html
    assert f"Event {altered} was altered after it was written." in html


def test_verify_chain_with_htmx_redirects_the_browser(compliance) -> None:
    response = client_for(compliance).post("/auditlog/verify/", headers={"HX-Request": "true"})

    job = BackgroundJob.objects.get(kind="auditlog_verify")
    assert response.status_code == 200
    assert response["HX-Redirect"] == job_url(job)


def test_verify_chain_is_a_post(compliance) -> None:
    response = client_for(compliance).get("/auditlog/verify/")

    assert response.status_code == 405
    assert not BackgroundJob.objects.exists()
