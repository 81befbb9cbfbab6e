"""Locust users for bench/load.py and tests/reliability/test_load_smoke.py (run only as its own
process: `locust -f bench/locustfile.py`; locust patches ssl and sockets with gevent, so nothing
of the project or the suite ever imports it).

Three people, one request kind each, and a baseline beside them at the same concurrency:
- a member of the public verifying an image (POST /api/v1/verify/, a fresh PNG each time);
- a reviewer reading the review queue (GET /review/, a session from the log-in form);
- a contributor uploading an image (POST /api/v1/ingest/ with their token, a fresh PNG);
- the baseline: a static file WhiteNoise serves (no database, no template).
Each user sends its own client address in X-Forwarded-For (the web process trusts one proxy), as
people behind an ingress do, so the per-client rate limits count each person apart.
LOAD_HAMMER=1 replaces them all with verifiers sharing one address: the run that exceeds the
verify limit. The world comes from the environment (LOAD_* variables, written by the caller).
"""

from __future__ import annotations

import io
import os
import random
import re

from locust import HttpUser, between, task
from PIL import Image

TOKEN = os.environ.get("LOAD_CONTRIBUTOR_TOKEN", "")
CONSENT_ID = os.environ.get("LOAD_CONSENT_ID", "")
DATASET = os.environ.get("LOAD_DATASET", "")
REVIEWER = os.environ.get("LOAD_REVIEWER", "")
REVIEWER_PASSWORD = os.environ.get("LOAD_REVIEWER_PASSWORD", "")
STATIC_PATH = os.environ.get("LOAD_STATIC_PATH", "")
HAMMER = os.environ.get("LOAD_HAMMER") == "1"
PROXY = {"X-Forwarded-Proto": "https"}  # what the ingress adds: production redirects plain http


def _png(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (32, 32), rng.randbytes(32 * 32 * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _explain_failure(answer) -> None:
    """A failed answer is counted under its status and the error code of its body, so that the
    failures file says what went wrong (a 429 from the throttle, a 503 and why)."""
    if answer.status_code >= 400:
        try:
            code = answer.json().get("code", "")
        except ValueError:
            code = answer.text[:80]
        answer.failure(f"{answer.status_code} {code}")


class _Person(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.rng = random.Random()
        address = (
            "203.0.113.7" if HAMMER else f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        )
        self.headers = {**PROXY, "X-Forwarded-For": address}


class Verifier(_Person):
    @task
    def verify(self) -> None:
        image = {"file": ("image.png", _png(self.rng), "image/png")}
        with self.client.post("/api/v1/verify/", files=image, headers=self.headers, name="verify", catch_response=True) as answer:
            _explain_failure(answer)


class Reviewer(_Person):
    def on_start(self) -> None:
        super().on_start()
        # Production cookies are Secure and this client speaks plain http to the server (TLS
        # ends at the ingress), so the session and CSRF cookies are sent by hand.
        page = self.client.get("/accounts/login/", headers=self.headers, name="login")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        csrf = page.cookies.get("csrftoken", "")
        with self.client.post(
            "/accounts/login/",
            data={"username": REVIEWER, "password": REVIEWER_PASSWORD, "csrfmiddlewaretoken": token.group(1) if token else ""},
            headers={**self.headers, "Cookie": f"csrftoken={csrf}", "Origin": self.host.replace("http://", "https://")},
            allow_redirects=False,
            name="login",
            catch_response=True,
        ) as answer:
            if "sessionid" not in answer.cookies:
                answer.failure(f"{answer.status_code} sign-in refused")
            self.session_cookie = f"sessionid={answer.cookies.get('sessionid', '')}"

    @task
    def review_queue(self) -> None:
        with self.client.get(
            "/review/", headers={**self.headers, "Cookie": self.session_cookie}, name="review", catch_response=True
        ) as answer:
            if answer.status_code == 200 and "login" in answer.url:
                answer.failure("not signed in")


class Contributor(_Person):
    @task
    def ingest(self) -> None:
        with self.client.post(
            "/api/v1/ingest/",
            data={"dataset": DATASET, "consent_id": CONSENT_ID},
            files={"files": ("image.png", _png(self.rng), "image/png")},
            headers={**self.headers, "Authorization": f"Token {TOKEN}"},
            name="ingest",
            catch_response=True,
        ) as answer:
            if answer.status_code == 200 and not answer.json().get("accepted"):
                answer.failure(f"refused: {answer.json().get('refused')}")


class Baseline(_Person):
    @task
    def static_file(self) -> None:
        self.client.get(STATIC_PATH, headers=self.headers, name="baseline")


if HAMMER:  # only the verifiers run, all from one address
    del Reviewer, Contributor, Baseline
