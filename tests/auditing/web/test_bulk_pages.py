"""The bulk decision page (/review/bulk/) through Django's test client: who may open it, what it
shows before anything changes, a small set decided in the request, a large one by a background
job, and every bad input explained on the page with nothing changed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from auditing.models import Finding, FindingStatus
from auditing.services.claims import asset_claim
from core.audit import audit_events
from core.background import background_run
from core.models import BackgroundJob, EventType
from tests.auditing.factories import flagged_finding
from tests.support.pages import client

pytestmark = pytest.mark.django_db

BULK = "/review/bulk/"
REASON = "Not what the check says: a false match"


@pytest.fixture
def three(world, contributor, settings) -> list[Finding]:
    return [flagged_finding(settings, contributor, world.dataset, world.consent, seed=seed) for seed in (91, 92, 93)]


def decide(web: Client, count=3, decision="dismiss", reason=REASON, query="", **extra):
    return web.post(f"{BULK}{query}", {"decision": decision, "reason": reason, "count": count}, **extra)


def open_findings() -> int:
    return Finding.objects.filter(status=FindingStatus.OPEN).count()


def resolved_events() -> int:
    return audit_events(event_type=EventType.FINDING_RESOLVED).count()


# -- who may open it -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("reviewer", 200),
        ("contributor", 403),
        ("ml_engineer", 403),
        ("compliance", 403),
        ("operator", 403),
        ("product", 403),
        ("outsider", 403),
    ],
)
def test_only_a_reviewer_opens_the_bulk_page(persona, status, personas, three):
    assert client(personas[persona]).get(BULK).status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(three):
    response = Client().get(BULK)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/review/bulk/")


@pytest.mark.parametrize("persona", ["contributor", "ml_engineer", "compliance", "operator", "product", "outsider"])
def test_a_forged_post_from_another_role_is_forbidden_and_changes_nothing(persona, personas, three):
    response = decide(client(personas[persona]))

    assert response.status_code == 403
    assert open_findings() == 3 and resolved_events() == 0


# -- what it shows -------------------------------------------------------------------------------
def test_the_queue_links_to_a_decision_over_all_its_matches_with_its_filters(three, reviewer):
    page = client(reviewer).get("/review/?auditor=synthetic").content.decode()

    assert f'<a href="{BULK}?auditor=synthetic">Decide all 3 matches…</a>' in page


def test_the_page_says_what_will_change_and_asks_for_a_decision_and_a_reason(three, reviewer):
    response = client(reviewer).get(f"{BULK}?auditor=synthetic&min_score=0.5&after=whatever")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<strong>3</strong> findings on <strong>3</strong> images will change." in page
    assert "<li>flagged by the synthetic check</li>" in page and "<li>scored at least 0.5</li>" in page
    assert "<legend>Decision</legend>" in page and "> Dismiss</label>" in page and "> Confirm</label>" in page
    assert '<label for="id_reason">Reason</label>' in page and 'list="standard-reasons"' in page
    assert f'<option value="{REASON}">' in page
    assert 'name="count" value="3"' in page
    assert f'action="{BULK}?auditor=synthetic&amp;min_score=0.5"' in page  # the filters alone travel
    assert ">Decide 3 findings</button>" in page


def test_without_filters_the_page_says_it_covers_the_whole_queue(three, reviewer):
    assert "No filter: every open finding in the queue." in client(reviewer).get(BULK).content.decode()


def test_images_another_reviewer_holds_are_named_before_deciding(three, reviewer, second_reviewer):
    asset_claim(asset_id=three[0].asset_id, reviewer=second_reviewer)

    page = client(reviewer).get(BULK).content.decode()

    assert "<strong>ravi</strong> (1 finding)" in page and "skipped unless they are released" in page


def test_an_empty_match_set_offers_nothing_to_decide(three, reviewer):
    response = client(reviewer).get(f"{BULK}?auditor=pii")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<strong>0</strong> findings" in page and "there is nothing to decide" in page
    assert '<form method="post" action="/review/bulk/' not in page


# -- deciding ------------------------------------------------------------------------------------
def test_a_small_set_is_decided_at_once_and_the_reviewer_returns_to_the_queue(three, reviewer):
    web = client(reviewer)

    response = decide(web, query="?auditor=synthetic")

    assert response.status_code == 302 and response["Location"] == "/review/?auditor=synthetic"
    assert open_findings() == 0 and resolved_events() == 3
    page = web.get(response["Location"]).content.decode()
    assert "3 dismissed. Each decision is in the record under your name." in page
    assert "<strong>0</strong> images with open findings match" in page


def test_held_findings_are_skipped_and_the_message_says_by_whom(three, reviewer, second_reviewer):
    asset_claim(asset_id=three[0].asset_id, reviewer=second_reviewer)
    web = client(reviewer)

    response = decide(web, decision="confirm", follow=True)

    assert "2 confirmed; 1 skipped (held by ravi: 1)." in response.content.decode()
    assert Finding.objects.get(pk=three[0].pk).status == FindingStatus.OPEN


def test_a_large_set_is_decided_by_a_background_job_with_a_progress_page(three, reviewer, monkeypatch):
    monkeypatch.setattr("auditing.bulk_views.INLINE_LIMIT", 2)
    web = client(reviewer)

    response = decide(web)

    job = BackgroundJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tasks/{job.pk}/"
    assert (job.kind, job.requested_by, job.total, job.status) == ("bulk_decision", reviewer, 3, "queued")
    assert open_findings() == 3  # nothing yet: the worker does it
    waiting = web.get(response["Location"]).content.decode()
    assert "Decide all matching findings" in waiting and "<progress" in waiting

    background_run(job.pk)

    job.refresh_from_db()
    assert job.status == "succeeded" and job.done == 3
    assert open_findings() == 0 and resolved_events() == 3
    done = web.get(response["Location"]).content.decode()
    assert "<strong>3</strong> dismissed." in done


def test_with_htmx_a_started_job_sends_the_browser_to_its_page(three, reviewer, monkeypatch):
    monkeypatch.setattr("auditing.bulk_views.INLINE_LIMIT", 2)

    response = decide(client(reviewer), HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == f"/tasks/{BackgroundJob.objects.get().pk}/"


def test_a_job_whose_matches_grew_before_it_ran_fails_and_changes_nothing(three, reviewer, monkeypatch):
    monkeypatch.setattr("auditing.bulk_views.INLINE_LIMIT", 2)
    decide(client(reviewer))
    job = BackgroundJob.objects.get()
    BackgroundJob.objects.filter(pk=job.pk).update(params={**job.params, "count": 2})

    background_run(job.pk)

    job.refresh_from_db()
    assert job.status == "failed" and "than the 2 you confirmed" in job.status_reason
    assert open_findings() == 3


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"reason": ""}, "Write a reason for your decision"),
        ({"reason": "x" * 10_001}, "at most 10000 characters"),
        ({"decision": "delete"}, "Select a valid choice"),
        ({"decision": ""}, "This field is required"),
        ({"count": "lots"}, "out of date or changed"),
        ({"count": "9" * 40}, "out of date or changed"),
    ],
)
def test_a_bad_form_is_explained_and_changes_nothing(change, words, three, reviewer):
    response = decide(client(reviewer), **{"count": 3, "decision": "dismiss", "reason": REASON, **change})

    page = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in page and "Nothing was decided" in page and words in page
    assert open_findings() == 3 and resolved_events() == 0


def test_a_count_that_no_longer_matches_is_refused_with_the_new_count(three, reviewer):
    web = client(reviewer)

    response = decide(web, count=2)

    page = response.content.decode()
    assert response.status_code == 409
    assert "3 findings on 3 images match now, not the 2 you were shown" in page
    assert 'name="count" value="3"' in page and f'value="{REASON}"' in page
    assert open_findings() == 3 and resolved_events() == 0
    assert decide(web, count=3).status_code == 302 and open_findings() == 0


def test_posting_to_an_empty_match_set_is_refused(three, reviewer):
    response = decide(client(reviewer), count=0, query="?auditor=pii")

    assert response.status_code == 400 and "nothing to decide" in response.content.decode()
    assert open_findings() == 3


@pytest.mark.parametrize(
    "query",
    ["?min_score=lots", "?max_score=7", "?since=yesterday", "?auditor=everything", "?code=" + "x" * 5000, "?order=random"],
)
def test_tampered_or_huge_filters_are_explained_and_change_nothing(query, three, reviewer):
    web = client(reviewer)

    for response in (web.get(f"{BULK}{query}"), decide(web, query=query)):
        page = response.content.decode()
        assert response.status_code == 400
        assert re.search(r'role="alert">Some of the filters could not be used', page)
    assert open_findings() == 3 and resolved_events() == 0
