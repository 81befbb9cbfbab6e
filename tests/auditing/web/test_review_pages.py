"""The review pages through Django's test client: the queue (filters, keyset pages, refusals on
the page), the asset page (claim, decision, every bad input changes nothing) and the image views."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from auditing.models import Finding, FindingStatus
from auditing.services import asset_audit_run, audits_request
from auditing.services.claims import asset_claim, claim_holder
from auditing.views import c2pa_summary
from core.audit import audit_events
from tests.auditing.factories import flagged_finding, near_duplicate_finding
from tests.support.pages import client

# A well-formed id that names nothing; fixed, so every pytest process collects the same test ids.
UNKNOWN_ID = uuid.UUID("5a0f3c1e-7d2b-4c8a-9e61-2f4b8d7c0a13")

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(world, contributor, settings) -> Finding:
    return flagged_finding(settings, contributor, world.dataset, world.consent, seed=41)


@pytest.fixture
def second(world, contributor, settings) -> Finding:
    return flagged_finding(settings, contributor, world.dataset, world.consent, seed=42)


def asset_url(finding: Finding) -> str:
    return f"/review/assets/{finding.asset_id}/"


def decide(web: Client, finding: Finding, decision="dismiss", reason="a scan of a printed photo", **extra):
    return web.post(asset_url(finding), {"finding": str(finding.pk), "decision": decision, "reason": reason}, **extra)


def events() -> int:
    return audit_events().count()


# -- the queue -----------------------------------------------------------------------------------
def test_the_queue_lists_each_flagged_asset_with_a_link_and_the_count(finding, second, reviewer):
    response = client(reviewer).get("/review/")

    page = response.content.decode()
    assert response.status_code == 200
    assert asset_url(finding) in page and asset_url(second) in page
    assert "<strong>2</strong> images with open findings match" in page
    assert f'alt="Image {finding.asset_id}"' in page


def test_filtering_by_auditor_narrows_the_queue(finding, reviewer):
    assert asset_url(finding) in client(reviewer).get("/review/?auditor=synthetic").content.decode()
    nothing = client(reviewer).get("/review/?auditor=pii").content.decode()
    assert asset_url(finding) not in nothing and "<strong>0</strong> images" in nothing


def test_next_page_follows_the_cursor_and_shows_every_asset_once(finding, second, reviewer, monkeypatch):
    monkeypatch.setattr("auditing.views.QUEUE_PAGE_SIZE", 1)
    web = client(reviewer)
    first = web.get("/review/").content.decode()
    assert 'rel="next"' in first
    next_url = first.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    later = web.get(f"/review/?{next_url}").content.decode()

    shown = [url for url in (asset_url(finding), asset_url(second)) if url in first] + [
        url for url in (asset_url(finding), asset_url(second)) if url in later
    ]
    assert sorted(shown) == sorted([asset_url(finding), asset_url(second)])
    assert 'rel="next"' not in later


@pytest.mark.parametrize(
    "query",
    [
        "auditor=everything",
        "min_score=lots",
        "max_score=7",
        "since=yesterday",
        "contributor=" + "x" * 5000,
        "code=" + "x" * 5000,
        "order=random",
    ],
)
def test_a_bad_filter_is_explained_on_the_page(query, finding, reviewer):
    response = client(reviewer).get(f"/review/?{query}")

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_a_tampered_cursor_is_explained_on_the_page(finding, reviewer):
    response = client(reviewer).get("/review/?after=bm90IGEgY3Vyc29y")

    assert response.status_code == 400
    assert "not valid any more" in response.content.decode()


# -- the asset page ------------------------------------------------------------------------------
def test_opening_an_asset_claims_it_and_shows_the_image_and_each_finding(finding, reviewer):
    response = client(reviewer).get(asset_url(finding))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'alt="Image {finding.asset_id}' in page
    assert "<article" in page and "synthetic" in page and finding.code in page
    assert "says it was made by a computer (trainedAlgorithmicMedia), not photographed" in page
    assert 'name="reason"' in page and ">Dismiss</button>" in page and ">Confirm</button>" in page
    assert claim_holder(finding.asset_id).reviewer == reviewer


def test_an_asset_another_reviewer_holds_says_who_and_disables_the_decision(finding, reviewer, second_reviewer):
    asset_claim(asset_id=finding.asset_id, reviewer=second_reviewer)

    page = client(reviewer).get(asset_url(finding)).content.decode()

    assert f"<strong>{second_reviewer.username}</strong> is reviewing this image until" in page
    assert 'value="dismiss" class="decision__dismiss" disabled' in page


def test_dismissing_records_the_decision_and_shows_who_made_it(finding, reviewer):
    web = client(reviewer)
    response = decide(web, finding)

    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == FindingStatus.DISMISSED and finding.resolved_by == reviewer
    page = web.get(asset_url(finding)).content.decode()
    assert f"<strong>dismissed</strong> by <strong>{reviewer.username}</strong>" in page


def test_with_htmx_the_answer_is_the_finding_alone(finding, reviewer):
    response = decide(client(reviewer), finding, decision="confirm", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith("<article") and "<strong>confirmed</strong>" in page
    assert 'id="asset-status" hx-swap-oob="true">Status: <strong>rejected</strong>. 0 open findings.' in page
    # The history gains the decision and the asset's move at once, out of band, newest first.
    history = page[page.index('id="history" aria-labelledby="history-heading" hx-swap-oob="true"') :]
    newest = [item.split("</strong>")[0].rsplit("<strong>", 1)[-1] for item in history.split("<li>")[1:4]]
    assert newest == ["asset.status_changed", "asset.reviewed", "finding.resolved"]


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"reason": "  "}, 400, "Write a reason"),
        ({"decision": "approve"}, 400, "dismiss or confirm"),
        ({"finding": "not-an-id"}, 400, "names no finding of this image"),
        ({"finding": str(uuid.uuid4())}, 400, "names no finding of this image"),
    ],
)
def test_a_bad_decision_is_explained_and_changes_nothing(change, status, words, finding, reviewer):
    before = events()
    body = {"finding": str(finding.pk), "decision": "dismiss", "reason": "fine", **change}

    response = client(reviewer).post(asset_url(finding), body)

    assert response.status_code == status
    assert 'role="alert"' in response.content.decode() and words in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and events() == before


def test_a_finding_of_another_asset_is_refused(finding, second, reviewer):
    response = client(reviewer).post(asset_url(finding), {"finding": str(second.pk), "decision": "dismiss", "reason": "x"})

    assert response.status_code == 400
    second.refresh_from_db()
    assert second.status == FindingStatus.OPEN


def test_a_decision_already_made_in_another_tab_is_explained(finding, reviewer):
    web = client(reviewer)
    decide(web, finding, decision="confirm")
    before = events()

    response = decide(web, finding, decision="dismiss")

    assert response.status_code == 409
    assert "already confirmed" in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CONFIRMED and events() == before


def test_a_decision_on_an_asset_another_holds_is_refused(finding, reviewer, second_reviewer):
    asset_claim(asset_id=finding.asset_id, reviewer=second_reviewer)
    before = events()

    response = decide(client(reviewer), finding)

    assert response.status_code == 409
    assert "is reviewing this image" in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and events() == before


@pytest.mark.parametrize("persona", ["contributor", "compliance", "ml_engineer", "operator"])
def test_a_forged_decision_from_another_role_is_forbidden(persona, finding, request):
    before = events()

    response = decide(client(request.getfixturevalue(persona)), finding)

    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and events() == before


@pytest.mark.parametrize("path", ["/review/assets/not-a-uuid/", f"/review/assets/{UNKNOWN_ID}/"])
def test_a_tampered_asset_id_is_a_friendly_404(path, reviewer):
    response = client(reviewer).get(path)

    assert response.status_code == 404
    assert b"<html" in response.content


def test_previous_and_next_follow_the_queue(finding, second, reviewer):
    newer, older = sorted([finding, second], key=lambda f: (f.created_at, f.asset_id), reverse=True)

    page = client(reviewer).get(asset_url(newer)).content.decode()

    assert f'<link rel="prefetch" href="/images/assets/{older.asset_id}/thumb/1024/" as="image">' in page
    assert f'href="{asset_url(older)}" rel="next"' in page
    assert f'href="{asset_url(newer)}" rel="prev"' in client(reviewer).get(asset_url(older)).content.decode()


def test_the_history_lists_the_assets_events_newest_first(finding, reviewer):
    web = client(reviewer)
    decide(web, finding, reason="a scan, not generated")

    page = web.get(asset_url(finding)).content.decode()

    history = page.split('id="history-heading"', 1)[1]
    assert history.index("finding.resolved") < history.index("asset.ingested")
    assert "a scan, not generated" in history


# -- the images ----------------------------------------------------------------------------------
def test_the_image_view_serves_the_bytes_with_safe_headers(finding, reviewer):
    response = client(reviewer).get(f"/images/assets/{finding.asset_id}/")

    assert response.status_code == 200
    assert response["Content-Type"] == finding.asset.mime_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert response["Cache-Control"].startswith("private")


def test_the_image_view_follows_who_may_see_the_asset(finding, contributor, other_contributor, ml_engineer):
    assert client(contributor).get(f"/images/assets/{finding.asset_id}/").status_code == 200
    assert client(other_contributor).get(f"/images/assets/{finding.asset_id}/").status_code == 404
    assert client(ml_engineer).get(f"/images/assets/{finding.asset_id}/").status_code == 404
    assert Client().get(f"/images/assets/{finding.asset_id}/").status_code == 302


def test_a_near_duplicate_shows_the_protected_work_its_owner_and_reference(world, contributor, reviewer, settings, tmp_path):
    match = near_duplicate_finding(settings, tmp_path, contributor, world.dataset, world.consent)
    work_url = f"/images/protected/{match.details['protected_work_id']}/"

    page = client(reviewer).get(asset_url(match)).content.decode()

    assert f'src="{work_url}" alt="The protected work it resembles, owned by Acme Pictures"' in page
    assert "looks like a copy of a protected work owned by Acme Pictures (catalogue #7)" in page
    assert "near_duplicate.protected_work" in page
    image = client(reviewer).get(work_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("store", "words"),
    [
        (None, "none embedded"),
        ({"error": "truncated box"}, "present but unreadable (truncated box)"),
        (
            {
                "active_manifest": "urn:1",
                "manifests": {"urn:1": {"claim_generator": "Camera 2.0", "signature_info": {"issuer": "Acme CA"}}},
                "validation_state": "Trusted",
                "validation_status": [],
            },
            "made with Camera 2.0; signed by Acme CA; check: Trusted",
        ),
        (
            {
                "active_manifest": "urn:1",
                "manifests": {},
                "validation_state": "Invalid",
                "validation_status": ["claimSignature.mismatch"],
            },
            "present; check: Invalid; problems: claimSignature.mismatch",
        ),
    ],
)
def test_the_content_credentials_are_summed_up_in_words(store, words):
    assert c2pa_summary(store) == words


def test_deciding_the_last_open_finding_lets_go_of_the_asset(finding, reviewer):
    web = client(reviewer)
    web.get(asset_url(finding))
    assert claim_holder(finding.asset_id).reviewer == reviewer

    decide(web, finding)

    assert claim_holder(finding.asset_id) is None


def test_a_finding_a_newer_auditor_version_replaced_says_so_and_offers_no_decision(finding, reviewer, settings):
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.SyntheticAuditorFixed"]
    audits_request(asset_ids=[str(finding.asset_id)])
    asset_audit_run(asset_id=str(finding.asset_id), task_id="re-audit")

    page = client(reviewer).get(asset_url(finding)).content.decode()

    assert "finding--superseded" in page and "<strong>Superseded</strong>" in page
    assert "this image was re-audited by synthetic version fixed, whose result replaces this one." in page
    assert ">Dismiss</button>" not in page
