"""The snapshot pages through Django's test client: who may open them, the list (filters, keyset
pages), a snapshot (members, exclusions, consents, the diff) and the four-eyes decision, where
every bad input is explained on the page and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.audit import audit_events
from core.roles import Role
from core.users import user_add
from provenance.models import ConsentRecord, Snapshot, SnapshotStatus
from provenance.services.consent import consent_revoke
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_reject
from tests.core.factories import user_with_role
from tests.support.pages import client
from tests.support.snapshot_worlds import DISMISSAL_REASON, diff_world

# A well-formed id that names nothing; fixed, so every pytest process collects the same test ids.
UNKNOWN_ID = uuid.UUID("5a0f3c1e-7d2b-4c8a-9e61-2f4b8d7c0a13")

pytestmark = pytest.mark.django_db


def page_of(snapshot: Snapshot) -> str:
    return f"/snapshots/{snapshot.pk}/"


def decide(web: Client, snapshot: Snapshot, decision: str = "approve", reason: str = "", **extra):
    return web.post(page_of(snapshot), {"decision": decision, "reason": reason}, **extra)


def events() -> int:
    return audit_events().count()


def status_of(snapshot: Snapshot) -> str:
    return Snapshot.objects.get(pk=snapshot.pk).status


@pytest.fixture
def two(settings, world, contributor, other_contributor, reviewer, second_reviewer, ml_engineer):
    return diff_world(
        settings,
        world,
        contributor=contributor,
        other_contributor=other_contributor,
        reviewer=reviewer,
        second_reviewer=second_reviewer,
        ml_engineer=ml_engineer,
    )


# -- who may open the pages ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("reviewer", 200),
        ("second_reviewer", 200),
        ("ml_engineer", 200),
        ("compliance", 200),
        ("operator", 403),
        ("contributor", 403),
        ("product", 403),
        ("outsider", 403),
    ],
)
def test_each_role_gets_the_snapshot_pages_or_403(persona, status, world, request):
    web = client(request.getfixturevalue(persona))

    assert web.get("/snapshots/").status_code == status
    assert web.get(page_of(world.snapshot)).status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(world):
    for path in ("/snapshots/", page_of(world.snapshot)):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


# -- the list ------------------------------------------------------------------------------------
def test_the_list_shows_each_snapshot_with_its_facts_and_a_link(two, ml_engineer):
    response = client(ml_engineer).get("/snapshots/")

    page = response.content.decode()
    assert response.status_code == 200
    assert page_of(two.before) in page and page_of(two.after) in page
    assert page.index(page_of(two.after)) < page.index(page_of(two.before))  # newest first
    assert "<strong>2</strong> snapshots match" in page
    assert two.before.merkle_root in page and two.before.merkle_root[:12] + "…" in page
    assert ">approved<" in page and ">in_review<" in page and "rita, ravi" in page and ">mel<" in page
    assert 'href="/base-models/?status=in_review"' in page


def test_filtering_by_status_and_dataset_narrows_the_list(two, reviewer, world):
    web = client(reviewer)

    approved = web.get("/snapshots/?status=approved").content.decode()
    assert page_of(two.before) in approved and page_of(two.after) not in approved
    both = web.get(f"/snapshots/?dataset={world.dataset.slug}").content.decode()
    assert page_of(two.before) in both and page_of(two.after) in both


@pytest.mark.parametrize("query", ["status=sleeping", "dataset=nowhere", "dataset=" + "x" * 5000, "status=" + "y" * 5000])
def test_a_bad_filter_is_explained_on_the_list(query, world, reviewer):
    response = client(reviewer).get(f"/snapshots/?{query}")

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize("after", ["bm90IGEgY3Vyc29y", "x" * 5000, "WyJub3QgYSBkYXRlIiwgIngiXQ"])
def test_a_tampered_page_link_is_explained_on_the_list(after, world, reviewer):
    response = client(reviewer).get(f"/snapshots/?after={after}")

    assert response.status_code == 400
    assert "not valid any more" in response.content.decode()


def test_the_next_page_follows_the_cursor_and_shows_each_snapshot_once(two, reviewer, monkeypatch):
    monkeypatch.setattr("core.web.lists.LIST_PAGE_SIZE", 1)
    web = client(reviewer)

    first = web.get("/snapshots/?status=").content.decode()
    next_url = first.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    later = web.get(f"/snapshots/?{next_url}").content.decode()

    assert page_of(two.after) in first and page_of(two.before) not in first
    assert page_of(two.before) in later and page_of(two.after) not in later
    assert 'rel="next"' not in later and "First page" in later


# -- a snapshot ----------------------------------------------------------------------------------
def test_a_snapshot_page_shows_the_contract_and_for_a_reviewer_the_decision(world, reviewer):
    page = client(reviewer).get(page_of(world.snapshot)).content.decode()

    assert ">in_review<" in page and world.snapshot.merkle_root in page
    assert ">Approve</button>" in page and ">Reject</button>" in page
    assert '<label for="four-eyes-reason">Reason</label>' in page
    assert f'<img src="/images/assets/{world.asset.pk}/" alt="Image {world.asset.pk}" loading="lazy"' in page
    assert 'width="120" height="120"' in page
    assert "There is no earlier approved snapshot" in page
    assert str(world.consent.pk) in page and "Carla Contributor" in page


@pytest.mark.parametrize("persona", ["ml_engineer", "compliance"])
def test_other_roles_see_the_snapshot_but_no_decision(persona, world, request):
    page = client(request.getfixturevalue(persona)).get(page_of(world.snapshot)).content.decode()

    assert world.snapshot.merkle_root in page and ">in_review<" in page
    assert ">Approve</button>" not in page and ">Reject</button>" not in page


def test_an_ml_engineer_sees_no_image_and_no_consent_details(world, ml_engineer):
    page = client(ml_engineer).get(page_of(world.snapshot)).content.decode()

    assert "/images/assets/" not in page and str(world.asset.pk) in page
    assert "Carla Contributor" not in page and "1 consent not shown" in page


def test_the_diff_against_the_last_approved_snapshot_is_on_the_page(two, reviewer):
    page = client(reviewer).get(page_of(two.after)).content.decode()

    diff = page.split('id="diff-heading"', 1)[1].split('id="members-heading"', 1)[0]
    assert page_of(two.before) in diff
    assert "Images added (2)" in diff and str(two.added_by_otto.pk) in diff and str(two.dismissed.asset_id) in diff
    assert "Images removed (1)" in diff and str(two.removed.pk) in diff
    assert str(two.otto_consent.pk) in diff and "now relied on" in diff and "renewed" in diff
    assert "Findings dismissed since the approval (1)" in diff and DISMISSAL_REASON in diff and two.dismissed.code in diff


def test_the_exclusions_say_why_each_image_was_left_out(two, reviewer):
    page = client(reviewer).get(page_of(two.after)).content.decode()

    left_out = page.split('id="exclusions-heading"', 1)[1]
    assert "Images left out (1)" in page and str(two.removed.pk) in left_out and "rejected by a reviewer" in left_out


def test_members_come_a_page_at_a_time(two, reviewer, monkeypatch):
    monkeypatch.setattr("provenance.views.MEMBERS_PAGE_SIZE", 1)
    web = client(reviewer)

    first = web.get(page_of(two.after)).content.decode()
    later = web.get(f"{page_of(two.after)}?after=0").content.decode()

    assert 'href="?after=0#members" rel="next">Next images</a>' in first
    assert "Leaf 0<" in first and "Leaf 1<" not in first
    assert "Leaf 1<" in later and "Leaf 0<" not in later and "Next images" not in later


@pytest.mark.parametrize("after", ["-3", "abc", "9" * 40])
def test_an_edited_members_link_is_explained(after, world, reviewer):
    response = client(reviewer).get(f"{page_of(world.snapshot)}?after={after}")

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode() and "Leaf 0<" in response.content.decode()


@pytest.mark.parametrize("path", ["/snapshots/not-a-uuid/", f"/snapshots/{UNKNOWN_ID}/"])
def test_a_tampered_snapshot_id_is_a_friendly_404(path, reviewer):
    response = client(reviewer).get(path)

    assert response.status_code == 404 and b"<html" in response.content
    assert client(reviewer).post(path, {"decision": "approve"}).status_code == 404


# -- the four-eyes decision ----------------------------------------------------------------------
def test_two_reviewers_approve_and_the_page_names_both(world, reviewer, second_reviewer):
    first = decide(client(reviewer), world.snapshot)
    assert first.status_code == 302 and first["Location"] == page_of(world.snapshot)
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW

    web = client(second_reviewer)
    decide(web, world.snapshot)

    page = web.get(page_of(world.snapshot)).content.decode()
    assert status_of(world.snapshot) == SnapshotStatus.APPROVED
    assert ">approved<" in page and '<strong class="approver">rita</strong>, <strong class="approver">ravi</strong>' in page
    assert "yours was the second approval" in page and ">Approve</button>" not in page


def test_a_rejection_with_a_reason_is_recorded(world, reviewer):
    web = client(reviewer)
    response = decide(web, world.snapshot, decision="reject", reason="Two images show the same person without a release")

    assert response.status_code == 302
    snapshot = Snapshot.objects.get(pk=world.snapshot.pk)
    assert snapshot.status == SnapshotStatus.REJECTED and snapshot.status_reason.startswith("Two images")
    page = web.get(page_of(world.snapshot)).content.decode()
    assert ">rejected<" in page and "rejected it: Two images show the same person" in page


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"decision": "reject", "reason": "   "}, "Write a reason for the rejection"),
        ({"decision": "reject"}, "Write a reason for the rejection"),
        ({"decision": "reject", "reason": "x" * 10_001}, "The reason is too long"),
        ({"decision": "approve", "reason": "y" * 50_000}, "The reason is too long"),
        ({"decision": "publish"}, "neither Approve nor Reject"),
        ({}, "neither Approve nor Reject"),
    ],
)
def test_a_bad_decision_is_explained_and_changes_nothing(body, words, world, reviewer):
    before = events()

    response = client(reviewer).post(page_of(world.snapshot), body)

    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page and words in page
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW and events() == before


def test_its_creator_is_refused_in_plain_words(world, reviewer):
    builder = user_with_role("bea", Role.ML_ENGINEER)
    user_add(username="bea", role=Role.REVIEWER)
    mine = snapshot_create(dataset_slug=world.dataset.slug, actor=builder)
    before = events()

    response = decide(client(builder), mine)

    assert response.status_code == 403
    assert "You built this snapshot, so you may not approve or reject it" in response.content.decode()
    assert status_of(mine) == SnapshotStatus.IN_REVIEW and events() == before


def test_a_second_approval_by_the_same_reviewer_is_refused(world, reviewer):
    web = client(reviewer)
    decide(web, world.snapshot)
    before = events()

    response = decide(web, world.snapshot)

    assert response.status_code == 409
    assert "You have already approved this snapshot" in response.content.decode()
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW and events() == before


def test_a_decision_already_made_in_another_tab_is_explained(world, reviewer, second_reviewer):
    snapshot_reject(snapshot_id=str(world.snapshot.pk), reviewer=second_reviewer, reason="wrong dataset")
    before = events()

    response = decide(client(reviewer), world.snapshot)

    assert response.status_code == 409
    page = response.content.decode()
    assert 'role="alert"' in page and "already rejected" in page and "another tab" in page
    assert status_of(world.snapshot) == SnapshotStatus.REJECTED and events() == before


@pytest.mark.parametrize("persona", ["ml_engineer", "compliance", "operator", "contributor", "product"])
def test_a_forged_decision_from_another_role_is_forbidden(persona, world, request):
    web = client(request.getfixturevalue(persona))
    before = events()

    response = decide(web, world.snapshot, decision="reject", reason="forged")

    assert response.status_code == 403
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW and events() == before


def test_an_anonymous_decision_is_sent_to_log_in_and_changes_nothing(world):
    before = events()

    response = decide(Client(), world.snapshot)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW and events() == before


def test_with_htmx_the_answer_is_the_decision_section_alone(world, reviewer):
    response = decide(client(reviewer), world.snapshot, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<section")
    assert 'role="status"' in page and "A second reviewer must approve it too" in page
    assert '<strong class="approver">rita</strong>' in page


def test_with_htmx_a_refusal_comes_back_as_the_section_with_its_alert(world, reviewer):
    response = decide(client(reviewer), world.snapshot, decision="reject", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<section")
    assert 'role="alert"' in page and "Write a reason" in page


def test_a_tainted_snapshot_says_why_and_offers_no_decision(world, contributor, reviewer):
    consent_revoke(consent_id=str(world.consent.pk), actor=contributor, reason="I no longer want my photos used")

    page = client(reviewer).get(page_of(world.snapshot)).content.decode()

    assert ">tainted<" in page and "I no longer want my photos used" in page
    assert str(world.consent.pk) in page.split('id="four-eyes"', 1)[1].split("</section>", 1)[0]
    assert ">Approve</button>" not in page and ">Reject</button>" not in page
    before = events()
    response = decide(client(reviewer), world.snapshot)
    assert response.status_code == 409 and "tainted" in response.content.decode() and events() == before


def test_an_approval_refused_for_a_lapsed_consent_is_explained(world, reviewer, second_reviewer):
    snapshot_approve(snapshot_id=str(world.snapshot.pk), reviewer=second_reviewer)
    # Stands in for the days passing: the expiry moves into the past before the nightly pass taints it.
    ConsentRecord.objects.filter(pk=world.consent.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = events()

    response = decide(client(reviewer), world.snapshot)

    assert response.status_code == 409
    page = response.content.decode()
    assert "no longer covers it" in page and "1 consent no longer covers this snapshot" in page
    assert status_of(world.snapshot) == SnapshotStatus.IN_REVIEW and events() == before
