"""The verdict's word, sentences, training-and-mining statement and confidence, from the facts alone
(generation/services/verdicts.py: the one home of the rule)."""

from __future__ import annotations

import pytest

from generation.services.verdicts import (
    WORDS,
    VerdictFacts,
    chain_state,
    confidence,
    failure_sentence,
    summary,
    training_mining,
    verdict_word,
)

OURS_INTACT = {"has_manifest": True, "intact": True, "ours": True}


@pytest.mark.parametrize(
    ("facts", "word"),
    [
        (VerdictFacts(**OURS_INTACT, traced_by="manifest", chain_sound=True), "Trusted"),
        (VerdictFacts(**OURS_INTACT, traced_by="manifest", chain_sound=True, chain_tainted=True), "Tainted"),
        # Records that contradict the manifest outweigh a taint.
        (VerdictFacts(**OURS_INTACT, traced_by="manifest", chain_sound=False, chain_tainted=True), "Invalid"),
        (VerdictFacts(has_manifest=True, intact=False, ours=True, traced_by="manifest", chain_sound=True), "Invalid"),
        (VerdictFacts(has_manifest=True, intact=True, ours=False, traced_by="manifest"), "Untrusted"),
        (VerdictFacts(has_manifest=True, intact=True, ours=False, traced_by=None), "Untrusted"),
        (VerdictFacts(has_manifest=True, intact=False, ours=False, traced_by=None), "Invalid"),
        (VerdictFacts(has_manifest=True, intact=True, ours=True, traced_by=None), "Invalid"),  # ours, naming nothing
        (VerdictFacts(has_manifest=False, intact=False, ours=False, traced_by="watermark", chain_sound=True), "Recovered"),
        (VerdictFacts(has_manifest=False, intact=False, ours=False, traced_by="fingerprint"), "Recovered"),
        # A re-signed copy of ours: the soft binding wins over the foreign manifest.
        (VerdictFacts(has_manifest=True, intact=True, ours=False, traced_by="watermark", chain_sound=True), "Recovered"),
        (VerdictFacts(has_manifest=False, intact=False, ours=False, traced_by=None), "Unknown"),
    ],
)
def test_each_set_of_facts_has_one_word(facts, word):
    assert verdict_word(facts) == word


def test_every_word_of_the_web_contract_is_reachable_and_has_a_sentence():
    assert WORDS == ("Trusted", "Tainted", "Untrusted", "Invalid", "Recovered", "Unknown")
    sentences = {word: summary(word, state="Trusted", signer="Acme", binding="watermark") for word in WORDS}
    assert len(set(sentences.values())) == len(WORDS) and all(s.endswith(".") for s in sentences.values())
    assert "'Acme'" in sentences["Untrusted"] and "watermark" in sentences["Recovered"]


def test_a_recovered_copy_states_its_chain_and_other_words_do_not():
    recovered = VerdictFacts(has_manifest=False, intact=False, ours=False, traced_by="fingerprint", chain_sound=True)
    assert chain_state("Recovered", recovered) == "Trusted"
    assert chain_state("Recovered", VerdictFacts(**{**recovered.__dict__, "chain_tainted": True})) == "Tainted"
    assert chain_state("Recovered", VerdictFacts(**{**recovered.__dict__, "chain_sound": False})) == "Invalid"
    assert chain_state("Trusted", VerdictFacts(**OURS_INTACT, traced_by="manifest", chain_sound=True)) is None
    assert "withdrawn" in summary("Recovered", state="Tainted", binding="fingerprint")


def test_both_training_mining_labels_are_read_and_the_stricter_use_wins_per_entry():
    statement = training_mining(
        {
            "c2pa.training-mining": {
                "entries": {"c2pa.ai_training": {"use": "notAllowed"}, "c2pa.data_mining": {"use": "allowed"}}
            },
            "cawg.training-mining": {
                "entries": {
                    "cawg.ai_training": {"use": "allowed"},
                    "cawg.data_mining": {"use": "constrained"},
                    "cawg.ai_inference": {"use": "allowed"},
                }
            },
            "c2pa.actions.v2": {"actions": []},
        }
    )

    assert statement["entries"] == {"ai_training": "notAllowed", "data_mining": "constrained", "ai_inference": "allowed"}
    assert sorted(statement["labels"]) == ["c2pa.training-mining", "cawg.training-mining"]
    assert statement["sentence"] == (
        "Use of this image for AI training: not allowed; data mining: allowed only with conditions; AI inference: allowed."
    )
    assert training_mining({"c2pa.actions.v2": {}}) is None


def test_a_malformed_training_mining_statement_is_read_for_what_it_holds():
    statement = training_mining({"cawg.training-mining": {"entries": {"cawg.ai_training": {"use": "maybe"}, "x": "no"}}})
    assert statement == {"entries": {}, "labels": ["cawg.training-mining"], "sentence": "The statement names no use."}


def test_confidence_comes_from_the_corrected_bits_or_the_inliers_and_agreement_raises_it():
    watermark = {"output_id": "a", "corrected_bits": 9}
    assert confidence("watermark", {"watermark": watermark, "fingerprint": None})["level"] == "low"
    assert confidence("watermark", {"watermark": {**watermark, "corrected_bits": 1}})["level"] == "high"
    assert confidence("watermark", {"watermark": {**watermark, "corrected_bits": 5}})["level"] == "medium"
    both = confidence("watermark", {"watermark": watermark, "fingerprint": {"output_id": "a", "inliers": 20}})
    assert both["level"] == "high" and "same image" in both["sentence"]
    assert confidence("fingerprint", {"watermark": None, "fingerprint": {"output_id": "b", "inliers": 20}})["level"] == "low"
    assert confidence("fingerprint", {"fingerprint": {"output_id": "b", "inliers": 140}}) == {
        "binding": "fingerprint",
        "level": "high",
        "sentence": "140 distinctive points of the image line up with one of ours: high confidence.",
    }
    assert confidence("manifest", {}) is None and confidence(None, {}) is None


def test_failure_codes_read_in_plain_words():
    assert failure_sentence("assertion.dataHash.mismatch") == "The image's pixels or bytes were changed after it was signed."
    assert "our records" in failure_sentence("chain.mismatch", "the model id is 'x'")
    assert failure_sentence("something.new", "it broke") == "The validator reports something.new: it broke."
