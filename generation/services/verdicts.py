"""The verify verdict in words: one home for the rule that turns a verification's facts into the
web contract's word (`Trusted`, `Tainted`, `Untrusted`, `Invalid`, `Recovered`, `Unknown`), and
for the plain sentences that explain it, its failures, its training-and-mining statement and
its confidence. Pure functions of the facts: no database, no files.

`valid` and `trusted` are two questions: integrity (the signatures and hashes hold, c2pa-rs
`Valid` or `Trusted`) and trust (the signer chains to the organisation's anchors). A foreign
signer's intact manifest is valid and untrusted; a tampered one is invalid, whoever signed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRUSTED, TAINTED, UNTRUSTED, INVALID, RECOVERED, UNKNOWN = "Trusted", "Tainted", "Untrusted", "Invalid", "Recovered", "Unknown"
WORDS = (TRUSTED, TAINTED, UNTRUSTED, INVALID, RECOVERED, UNKNOWN)
SOFT_BINDINGS = ("watermark", "fingerprint")
_BINDING_WORDS = {"watermark": "its invisible watermark", "fingerprint": "its visual fingerprint"}


@dataclass(frozen=True)
class VerdictFacts:
    """What a verification found, before it is put in words.

    - `has_manifest`: the file carries a manifest (readable or not);
    - `intact`: that manifest's integrity holds, its ingredients' included;
    - `ours`: that manifest is signed by an identity the organisation's anchors vouch for;
    - `traced_by`: how one of our outputs was found (`manifest`, `watermark`, `fingerprint`, None);
    - `chain_sound`: the manifest the chain was read from is intact and ours, and every id and
      digest in it agrees with the platform's records (False when there is no chain);
    - `chain_tainted`: the chain's snapshot or base model may no longer be used (a consent
      revoked or expired since, an approval withdrawn).
    """

    has_manifest: bool
    intact: bool
    ours: bool
    traced_by: str | None
    chain_sound: bool = False
    chain_tainted: bool = False


def chain_word(*, sound: bool, tainted: bool) -> str:
    """The state of a chain found through a manifest of ours: Invalid, Tainted or Trusted."""
    if not sound:
        return INVALID
    return TAINTED if tainted else TRUSTED


def verdict_word(facts: VerdictFacts) -> str:
    """The one rule. A soft binding wins over a foreign or broken manifest that names none of our
    outputs (a re-signed or damaged copy of ours is still ours, `Recovered`); a manifest that
    names one of ours is judged on its own integrity first."""
    if facts.traced_by == "manifest":
        if not facts.intact:
            return INVALID
        if not facts.ours:
            return UNTRUSTED
        return chain_word(sound=facts.chain_sound, tainted=facts.chain_tainted)
    if facts.traced_by in SOFT_BINDINGS:
        return RECOVERED
    if facts.has_manifest:
        if not facts.intact:
            return INVALID
        # Signed by us, yet naming no output of ours: it contradicts our records.
        return INVALID if facts.ours else UNTRUSTED
    return UNKNOWN


def chain_state(word: str, facts: VerdictFacts) -> str | None:
    """For a Recovered copy, the state of the chain found through the stored manifest."""
    if word != RECOVERED:
        return None
    return chain_word(sound=facts.chain_sound, tainted=facts.chain_tainted)


def summary(word: str, *, state: str | None = None, signer: str | None = None, binding: str | None = None) -> str:
    """One sentence for a person who has never heard of C2PA."""
    if word == TRUSTED:
        return "Made by a model trained here on approved, consented images; nothing has changed since it was signed."
    if word == TAINTED:
        return (
            "Made here and unchanged since it was signed, but the permission behind its training data no longer "
            "holds: a consent was withdrawn or ran out, or an approval was taken back, after it was made."
        )
    if word == UNTRUSTED:
        who = f"'{signer}'" if signer else "someone"
        return (
            f"Its Content Credentials are intact, but they were signed by {who}, whom this platform does not "
            "recognise: it was not made here."
        )
    if word == INVALID:
        return (
            "It carries Content Credentials, but they no longer match the file or our records: it was changed "
            "after it was signed, or the credentials were forged."
        )
    if word == RECOVERED:
        how = _BINDING_WORDS.get(binding or "", "its soft bindings")
        after = {
            TRUSTED: "; its original record is intact and its training data still approved and consented",
            TAINTED: ", but a permission behind its training data has since been withdrawn",
            INVALID: ", but its original record does not check out",
        }.get(state or "", "")
        return f"Its Content Credentials were removed or replaced, but we recognised {how} as one of our images{after}."
    return "We found no Content Credentials, watermark or fingerprint of ours: it was not made here."


# --- failures in words --------------------------------------------------------------------------

_FAILURE_SENTENCES = {
    "assertion.dataHash.mismatch": "The image's pixels or bytes were changed after it was signed.",
    "assertion.boxesHash.mismatch": "The image's pixels or bytes were changed after it was signed.",
    "assertion.bmffHash.mismatch": "The image's pixels or bytes were changed after it was signed.",
    "assertion.collectionHash.mismatch": "A file inside the signed package was changed after it was signed.",
    "assertion.hashedURI.mismatch": "A signed statement in the credentials was edited after signing.",
    "assertion.missing": "A signed statement the credentials refer to is missing.",
    "ingredient.manifest.mismatch": "The credentials of something it was made from were edited after signing.",
    "ingredient.hashedURI.mismatch": "Something it was made from was changed after it was signed.",
    "claimSignature.mismatch": "The signature does not match what was signed.",
    "claimSignature.missing": "The credentials carry no signature.",
    "claimSignature.outsideValidity": "It was signed when the signing certificate was not valid.",
    "signingCredential.untrusted": "Signed by a certificate this platform's trust list does not vouch for.",
    "signingCredential.expired": "The signing certificate has expired and the signature carries no time-stamp.",
    "signingCredential.revoked": "The signing certificate was revoked.",
    "signingCredential.invalid": "The signing certificate is not valid for signing Content Credentials.",
    "manifest.unreadable": "The credentials are there but cannot be read.",
    "manifest.not_ours": "Signed by this platform, yet naming none of its images.",
}


def failure_sentence(code: str, explanation: str = "") -> str:
    """Plain words for a validator's (or our records') failure code."""
    known = _FAILURE_SENTENCES.get(code)
    if known:
        return known
    if code.startswith("chain."):
        return f"The credentials disagree with our records: {explanation or code}."
    return f"The validator reports {code}" + (f": {explanation}." if explanation else ".")


def failure(where: str, code: str, explanation: str = "") -> dict:
    return {"where": where, "code": code, "sentence": failure_sentence(code, explanation)}


# --- training and mining ------------------------------------------------------------------------

TRAINING_MINING_LABELS = ("cawg.training-mining", "c2pa.training-mining")
_STRICTNESS = {"allowed": 0, "constrained": 1, "notAllowed": 2}
_USE_WORDS = {"allowed": "allowed", "constrained": "allowed only with conditions", "notAllowed": "not allowed"}
_ENTRY_WORDS = {
    "ai_training": "AI training",
    "ai_generative_training": "generative AI training",
    "ai_inference": "AI inference",
    "data_mining": "data mining",
}


def training_mining(assertions: dict[str, Any]) -> dict | None:
    """Both training-and-mining assertions read together (`cawg.` and the older `c2pa.`, any
    instance): per entry the stricter use wins (notAllowed > constrained > allowed). `assertions`
    maps label (or `label__n`) to data, as `provenance.c2pa.manifests.chain` gives them."""
    entries: dict[str, str] = {}
    labels: list[str] = []
    for key, data in assertions.items():
        label = key.split("__")[0]
        if label not in TRAINING_MINING_LABELS or not isinstance(data, dict):
            continue
        labels.append(label)
        for name, entry in (data.get("entries") or {}).items() if isinstance(data.get("entries"), dict) else ():
            use = entry.get("use") if isinstance(entry, dict) else None
            if use not in _STRICTNESS:
                continue
            short = str(name).split(".", 1)[-1]
            if _STRICTNESS[use] >= _STRICTNESS.get(entries.get(short, "allowed"), 0):
                entries[short] = use
    if not labels:
        return None
    by_use: dict[str, list[str]] = {}
    for name in sorted(entries, key=lambda n: list(_ENTRY_WORDS).index(n) if n in _ENTRY_WORDS else len(_ENTRY_WORDS)):
        by_use.setdefault(entries[name], []).append(_ENTRY_WORDS.get(name, name.replace("_", " ")))
    parts = [f"{_and(names)}: {_USE_WORDS[use]}" for use, names in sorted(by_use.items(), key=lambda i: -_STRICTNESS[i[0]])]
    sentence = ("Use of this image for " + "; ".join(parts) + ".") if parts else "The statement names no use."
    return {"entries": entries, "labels": list(dict.fromkeys(labels)), "sentence": sentence}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- confidence of a soft binding ---------------------------------------------------------------

# Of the watermark's 64 bits, how many the decoder corrected; of the fingerprint's keypoints, how
# many agree on one geometry (15 is the acceptance floor, wrong candidates peaked at 9).
WATERMARK_LEVELS = ((2, "high"), (6, "medium"))
FINGERPRINT_LEVELS = ((60, "high"), (30, "medium"))


def confidence(traced_by: str | None, bindings: dict[str, Any]) -> dict | None:
    """How sure a soft binding is, in a level and a sentence; None when it was not one."""
    if traced_by not in SOFT_BINDINGS:
        return None
    watermark, fingerprint = bindings.get("watermark") or {}, bindings.get("fingerprint") or {}
    agree = bool(watermark.get("output_id")) and watermark.get("output_id") == fingerprint.get("output_id")
    if traced_by == "watermark":
        corrected = int(watermark.get("corrected_bits") or 0)
        level = next((word for limit, word in WATERMARK_LEVELS if corrected <= limit), "low")
        sentence = f"The invisible watermark was read with {corrected} of its 64 bits needing correction"
    else:
        inliers = int(fingerprint.get("inliers") or 0)
        level = next((word for limit, word in FINGERPRINT_LEVELS if inliers >= limit), "low")
        sentence = f"{inliers} distinctive points of the image line up with one of ours"
    if agree:
        level = "high"
        sentence += ", and the visual fingerprint points to the same image"
    return {"binding": traced_by, "level": level, "sentence": f"{sentence}: {level} confidence."}
