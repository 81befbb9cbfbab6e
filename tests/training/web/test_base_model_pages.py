"""The base-model pages through Django's test client: who may open them, the list, one base
model (what it is, every file's digest) and the four-eyes decision, where every bad input is
explained on the page and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from core.audit import audit_events
from core.roles import Role
from core.users import user_add
from tests.core.factories import user_with_role
from tests.support.pages import client
from tests.training.factories import approved_base_model, registered_base_model
from training.models import BaseModel, BaseModelStatus
from training.services import base_model_reject

# A well-formed id that names nothing; fixed, so every pytest process collects the same test ids.
UNKNOWN_ID = uuid.UUID("5a0f3c1e-7d2b-4c8a-9e61-2f4b8d7c0a13")

pytestmark = pytest.mark.django_db


def page_of(base_model: BaseModel) -> str:
    return f"/base-models/{base_model.pk}/"


def decide(web: Client, base_model: BaseModel, decision: str = "approve", reason: str = "", **extra):
    return web.post(page_of(base_model), {"decision": decision, "reason": reason}, **extra)


def events() -> int:
    return audit_events().count()


def status_of(base_model: BaseModel) -> str:
    return BaseModel.objects.get(pk=base_model.pk).status


@pytest.fixture
def registered(tiny_model_dir, ml_engineer) -> BaseModel:
    return registered_base_model(tiny_model_dir, ml_engineer)


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
def test_each_role_gets_the_base_model_pages_or_403(persona, status, registered, request):
    web = client(request.getfixturevalue(persona))

    assert web.get("/base-models/").status_code == status
    assert web.get(page_of(registered)).status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(registered):
    for path in ("/base-models/", page_of(registered)):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


# -- the list ------------------------------------------------------------------------------------
def test_the_list_shows_each_base_model_and_its_facts(registered, tiny_model_dir, ml_engineer, reviewer, second_reviewer):
    approved = approved_base_model(tiny_model_dir, ml_engineer, reviewer, second_reviewer, name="tiny-sd-approved")

    page = client(reviewer).get("/base-models/").content.decode()

    assert page_of(registered) in page and page_of(approved) in page
    assert page.index(page_of(approved)) < page.index(page_of(registered))  # newest first
    assert ">tiny-sd</a>" in page and ">MIT<" in page and ">mel<" in page and "rita, ravi" in page
    assert registered.sha256 in page and registered.sha256[:12] + "…" in page


def test_filtering_by_status_narrows_the_list(registered, tiny_model_dir, ml_engineer, reviewer, second_reviewer):
    approved = approved_base_model(tiny_model_dir, ml_engineer, reviewer, second_reviewer, name="tiny-sd-approved")

    waiting = client(reviewer).get("/base-models/?status=in_review").content.decode()

    assert page_of(registered) in waiting and page_of(approved) not in waiting


@pytest.mark.parametrize("query", ["status=sleeping", "status=" + "z" * 5000, "after=bm90IGEgY3Vyc29y", "after=" + "q" * 5000])
def test_a_bad_filter_or_page_link_is_explained_on_the_list(query, registered, reviewer):
    response = client(reviewer).get(f"/base-models/?{query}")

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_the_next_page_follows_the_cursor(registered, tiny_model_dir, ml_engineer, reviewer, monkeypatch):
    newer = registered_base_model(tiny_model_dir, ml_engineer, name="tiny-sd-2")
    monkeypatch.setattr("core.web.lists.LIST_PAGE_SIZE", 1)
    web = client(reviewer)

    first = web.get("/base-models/").content.decode()
    next_url = first.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    later = web.get(f"/base-models/?{next_url}").content.decode()

    assert page_of(newer) in first and page_of(registered) not in first
    assert page_of(registered) in later and 'rel="next"' not in later


# -- a base model --------------------------------------------------------------------------------
def test_a_base_model_page_shows_what_it_is_and_for_a_reviewer_the_decision(registered, reviewer):
    page = client(reviewer).get(page_of(registered)).content.decode()

    assert ">in_review<" in page and registered.sha256 in page and "built in code" in page
    assert registered.pipeline_class in page and "MIT" in page and "Registered by" in page
    entry = registered.files[0]
    assert entry["path"] in page and entry["sha256"] in page
    assert ">Approve</button>" in page and ">Reject</button>" in page and ">Reason</label>" in page


@pytest.mark.parametrize("persona", ["ml_engineer", "compliance"])
def test_other_roles_see_the_base_model_but_no_decision(persona, registered, request):
    page = client(request.getfixturevalue(persona)).get(page_of(registered)).content.decode()

    assert registered.sha256 in page
    assert ">Approve</button>" not in page and ">Reject</button>" not in page


@pytest.mark.parametrize("path", ["/base-models/not-a-uuid/", f"/base-models/{UNKNOWN_ID}/"])
def test_a_tampered_base_model_id_is_a_friendly_404(path, reviewer):
    response = client(reviewer).get(path)

    assert response.status_code == 404 and b"<html" in response.content
    assert client(reviewer).post(path, {"decision": "approve"}).status_code == 404


# -- the four-eyes decision ----------------------------------------------------------------------
def test_two_reviewers_approve_and_the_page_names_both(registered, reviewer, second_reviewer):
    assert decide(client(reviewer), registered).status_code == 302
    assert status_of(registered) == BaseModelStatus.IN_REVIEW

    web = client(second_reviewer)
    decide(web, registered)

    page = web.get(page_of(registered)).content.decode()
    assert status_of(registered) == BaseModelStatus.APPROVED
    assert '<strong class="approver">rita</strong>, <strong class="approver">ravi</strong>' in page
    assert "yours was the second approval" in page and ">Approve</button>" not in page


def test_a_rejection_with_a_reason_is_recorded(registered, reviewer):
    web = client(reviewer)

    assert decide(web, registered, decision="reject", reason="The licence forbids commercial use").status_code == 302

    assert status_of(registered) == BaseModelStatus.REJECTED
    page = web.get(page_of(registered)).content.decode()
    assert ">rejected<" in page and "The licence forbids commercial use" in page


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"decision": "reject", "reason": " "}, "Write a reason for the rejection"),
        ({"decision": "reject", "reason": "x" * 10_001}, "The reason is too long"),
        ({"decision": "delete"}, "neither Approve nor Reject"),
    ],
)
def test_a_bad_decision_is_explained_and_changes_nothing(body, words, registered, reviewer):
    before = events()

    response = client(reviewer).post(page_of(registered), body)

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode() and words in response.content.decode()
    assert status_of(registered) == BaseModelStatus.IN_REVIEW and events() == before


def test_its_registrant_is_refused_in_plain_words(tiny_model_dir):
    registrant = user_with_role("bea", Role.ML_ENGINEER)
    user_add(username="bea", role=Role.REVIEWER)
    mine = registered_base_model(tiny_model_dir, registrant, name="beas-model")
    before = events()

    response = decide(client(registrant), mine)

    assert response.status_code == 403
    assert "You registered this base model, so you may not approve or reject it" in response.content.decode()
    assert status_of(mine) == BaseModelStatus.IN_REVIEW and events() == before


def test_a_second_approval_by_the_same_reviewer_is_refused(registered, reviewer):
    web = client(reviewer)
    decide(web, registered)
    before = events()

    response = decide(web, registered)

    assert response.status_code == 409 and "You have already approved this base model" in response.content.decode()
    assert events() == before


def test_a_decision_already_made_in_another_tab_is_explained(registered, reviewer, second_reviewer):
    base_model_reject(base_model_id=registered.pk, reviewer=second_reviewer, reason="unknown origin")
    before = events()

    response = decide(client(reviewer), registered)

    assert response.status_code == 409 and "already rejected" in response.content.decode()
    assert status_of(registered) == BaseModelStatus.REJECTED and events() == before


def test_changed_files_are_explained_and_nothing_is_recorded(tiny_copy, ml_engineer, reviewer):
    copied = registered_base_model(tiny_copy, ml_engineer, name="tampered")
    (tiny_copy / "model_index.json").write_text((tiny_copy / "model_index.json").read_text() + " ")
    before = events()

    response = decide(client(reviewer), copied)

    assert response.status_code == 409
    assert "files have changed since it was registered (model_index.json)" in response.content.decode()
    assert status_of(copied) == BaseModelStatus.IN_REVIEW and events() == before


@pytest.mark.parametrize("persona", ["ml_engineer", "compliance", "operator", "contributor"])
def test_a_forged_decision_from_another_role_is_forbidden(persona, registered, request):
    web = client(request.getfixturevalue(persona))
    before = events()

    response = decide(web, registered, decision="reject", reason="forged")

    assert response.status_code == 403
    assert status_of(registered) == BaseModelStatus.IN_REVIEW and events() == before


def test_with_htmx_the_answer_is_the_decision_section_alone(registered, reviewer):
    response = decide(client(reviewer), registered, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<section")
    assert "A second reviewer must approve it too" in page and '<strong class="approver">rita</strong>' in page
