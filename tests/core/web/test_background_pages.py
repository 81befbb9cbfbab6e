"""A background job's page (/tasks/<id>/): its progress to the person who started it, then the
outcome; to anyone else, no such page."""

from __future__ import annotations

import pytest

from core.background import background_run, background_start, job_url
from core.models import BackgroundJob
from tests.support.background_kinds import COUNT, REFUSE, register_test_kinds

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _kinds() -> None:
    register_test_kinds()


@pytest.fixture
def job(reviewer) -> BackgroundJob:
    return background_start(kind=COUNT, actor=reviewer, params={"to": 3}, total=3)


def test_a_queued_job_shows_a_bar_and_asks_again(client, reviewer, job):
    client.force_login(reviewer)

    response = client.get(job_url(job))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<progress" in html and 'max="3"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'http-equiv="refresh"' in html  # without JavaScript, the page reloads itself
    assert "Waiting for a worker" in html


def test_a_finished_job_shows_its_result_and_stops_asking(client, reviewer, job):
    background_run(job.pk)
    client.force_login(reviewer)

    html = client.get(job_url(job)).content.decode()

    assert "Done" in html and "<dd>6</dd>" in html
    assert "hx-trigger" not in html and "http-equiv" not in html


def test_with_htmx_the_answer_is_the_status_block_alone(client, reviewer, job):
    client.force_login(reviewer)

    html = client.get(job_url(job), headers={"HX-Request": "true"}).content.decode()

    assert 'id="job-status"' in html
    assert "<html" not in html and "<nav" not in html


def test_a_refused_job_says_why_in_an_alert(client, reviewer):
    job = background_start(kind=REFUSE, actor=reviewer, params={}, total=3)
    background_run(job.pk)
    client.force_login(reviewer)

    html = client.get(job_url(job)).content.decode()

    assert 'role="alert"' in html
    assert "The records changed while you waited; look again." in html
    assert "1 of 3 had been done" in html


@pytest.mark.parametrize("persona", ["second_reviewer", "compliance", "operator"])
def test_someone_elses_job_is_not_found(client, job, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(job_url(job)).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client, job):
    response = client.get(job_url(job))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_malformed_job_address_is_a_friendly_404(client, reviewer):
    client.force_login(reviewer)

    response = client.get("/tasks/not-a-uuid/")

    assert response.status_code == 404
    assert "<nav" in response.content.decode()
