"""The result page reads every key of the agreed verdict interface (Verdict.as_dict: `verdict`,
`summary`, `taint`, `failures`, `confidence`, `chain_state`, `signer`, `training_mining` and the
enriched chain) and shows it in words. The verdicts here are written as the service stores them,
so the page is pinned to the interface, whatever image would produce each one."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from generation.models import Verification, VerificationStatus
from tests.support.pages import client

pytestmark = pytest.mark.django_db

CHAIN = [
    {"type": "output", "id": "o-1", "sha256": "a" * 64, "created_at": "2026-12-01T10:00:00+00:00",
     "parameters": {"steps": 20, "guidance": 7.5, "seed": 5, "size": "512x512"}},
    {"type": "model", "id": "m-1", "sha256": "b" * 64, "status": "usable", "created_at": "2026-11-30T10:00:00+00:00"},
    {"type": "base_model", "id": "bm-1", "sha256": "c" * 64, "name": "tiny-sd", "status": "approved"},
    {"type": "snapshot", "id": "s-1", "sha256": "d" * 64, "merkle_root": "e" * 64, "status": "tainted",
     "approvers": ["rita", "ravi"], "member_count": 2, "approved_at": "2026-11-29T10:00:00+00:00"},
]  # fmt: skip


def verdict(word: str, **keys) -> dict:
    return {
        "valid": True, "trusted": True, "traced_by": "manifest", "chain": CHAIN, "errors": [], "sha256": "f" * 64,
        "manifest": "embedded", "output_id": "o-1", "bindings": {}, "verdict": word, "summary": f"The {word} sentence.",
        "chain_state": None, "confidence": None, "signer": None, "training_mining": None, "taint": [], "failures": [],
        **keys,
    }  # fmt: skip


def page_for(stored: dict) -> str:
    verification = Verification.objects.create(
        sha256="f" * 64, status=VerificationStatus.DONE, verdict=stored, finished_at=timezone.now()
    )
    response = client().get(f"/verify/{verification.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("word", ["Trusted", "Tainted", "Untrusted", "Invalid", "Recovered", "Unknown"])
def test_each_word_is_shown_with_its_sentence_a_colour_and_a_shape(word):
    html = page_for(verdict(word))

    assert f'id="verdict-word">{word}<' in html and f"The {word} sentence." in html
    assert f"verdict--{word.lower()}" in html and 'class="verdict__glyph" aria-hidden="true"' in html


def test_a_tainted_verdict_names_the_consent_and_when_and_that_the_signature_is_intact():
    taint = [{"snapshot_id": "s-1", "consent_id": "c-9", "event": "revoked", "at": "2026-12-02T08:30:00+00:00"}] * 2

    html = page_for(verdict("Tainted", taint=taint))

    assert "The signature itself is ours and intact" in html
    assert html.count("Consent <code>c-9</code>") == 1 and "withdrawn on" in html and "2 December 2026" in html


def test_an_invalid_verdict_says_which_check_failed_where():
    failures = [
        {"where": "ingredient 'Model m-1' (model)", "code": "assertion.dataHash.mismatch", "sentence": "Its bytes changed."}
    ]

    html = page_for(verdict("Invalid", valid=False, trusted=False, failures=failures))

    assert "Which check failed" in html and "Ingredient &#x27;Model m-1&#x27; (model)" in html and "Its bytes changed." in html
    assert "What the credentials claim" in html  # the chain, not to be relied on


def test_a_recovered_verdict_gives_the_binding_the_confidence_and_the_chains_own_state():
    confidence = {"binding": "fingerprint", "level": "medium", "sentence": "42 matching points."}

    html = page_for(
        verdict("Recovered", traced_by="fingerprint", manifest="stored", confidence=confidence, chain_state="Tainted")
    )

    assert "its visual fingerprint" in html and "<strong>medium</strong> confidence" in html and "42 matching points." in html
    assert re.search(
        r"own signed record reads: <span class=\"verdict-badge verdict-badge--tainted\">.*Tainted</span>", html, re.S
    )


def test_the_chain_is_a_tree_with_ids_digests_dates_approvers_and_parameters():
    html = page_for(verdict("Trusted"))

    tree = re.sub(r"\s+", " ", html)
    # output > model > (base model, snapshot), each a nested list item
    assert re.search(r"chain-node--output.*<ul class=\"chain-tree\">.*chain-node--model.*<ul class=\"chain-tree\">"
                     r".*chain-node--base_model.*chain-node--snapshot", tree)  # fmt: skip
    assert "e" * 64 in html and "rita, ravi" in html and "29 November 2026" in html
    assert "Generation parameters" in html and ">Guidance</dt><dd>7.5<" in html


def test_the_signer_and_the_training_and_mining_permissions_are_in_words():
    signer = {"name": "Another studio", "issuer": "Studio CA", "signed_at": "2026-12-01T10:00:00+00:00", "time_stamped": True,
              "trusted": False}  # fmt: skip
    mining = {
        "entries": {
            "data_mining": "constrained",
            "ai_training": "notAllowed",
            "ai_generative_training": "notAllowed",
            "ai_inference": "allowed",
        },
        "labels": ["cawg.training-mining", "c2pa.training-mining"],
        "sentence": "Not for training.",
    }

    html = page_for(verdict("Untrusted", trusted=False, signer=signer, training_mining=mining))

    assert "Another studio (not trusted by this platform)" in html and "Studio CA" in html
    assert "vouched for by a time-stamp authority" in html
    rows = re.findall(r'<th scope="row">([^<]+)</th><td><span class="mining-use[^"]*">([^<]+)</span>', html)
    assert rows == [
        ("Training AI models", "not allowed"),
        ("Training generative AI models", "not allowed"),
        ("Using it as input to an AI model", "allowed"),
        ("Text and data mining", "allowed only under conditions"),
    ]
    assert "<code>cawg.training-mining</code> and <code>c2pa.training-mining</code>" in html
