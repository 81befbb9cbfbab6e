"""A verdict (generation.services.verification.Verdict.as_dict) in the words of the verify page.

The verdict's own keys decide everything: the word (`verdict`), its sentence (`summary`), the
taint, the failures, the confidence, the signer and the training-and-mining permissions. This
module only lays them out for the templates: the chain as a tree (output → model → base model
and snapshot), ISO dates as dates, codes beside plain words.
A verdict stored before the service said its word never reaches here
(`verification_result_get` answers 410 `outdated` for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

WORDS = ("Trusted", "Tainted", "Untrusted", "Invalid", "Recovered", "Unknown")

# The shape beside the colour (never colour alone): a glyph, hidden from screen readers, which
# read the word.
GLYPHS = {"Trusted": "✓", "Tainted": "!", "Untrusted": "?", "Invalid": "✗", "Recovered": "↺", "Unknown": "–"}

TYPE_WORDS = {
    "output": "Generated image",
    "model": "Fine-tuned model",
    "base_model": "Base model",
    "snapshot": "Training snapshot",
}

# The keys of a chain entry shown as facts, in this order, with their labels. `parameters` is
# shown on its own; anything else the service adds later is shown under its own name.
NODE_FACTS = (
    ("name", "Name"),
    ("status", "Status"),
    ("sha256", "SHA-256"),
    ("merkle_root", "Merkle root"),
    ("member_count", "Images"),
    ("approvers", "Approved by"),
    ("created_at", "Created"),
    ("approved_at", "Approved"),
    ("job_id", "Generation job"),
)
DIGEST_KEYS = {"id", "sha256", "merkle_root", "job_id"}
DATE_KEYS = {"created_at", "approved_at", "at", "signed_at"}

MINING_ENTRIES = {
    "ai_training": "Training AI models",
    "ai_generative_training": "Training generative AI models",
    "ai_inference": "Using it as input to an AI model",
    "data_mining": "Text and data mining",
}
MINING_USES = {"notAllowed": "not allowed", "constrained": "allowed only under conditions", "allowed": "allowed"}

BINDING_WORDS = {
    "watermark": "its invisible watermark",
    "fingerprint": "its visual fingerprint",
    "manifest": "its Content Credentials",
}


@dataclass
class Fact:
    label: str
    value: Any
    kind: str = "text"  # text | digest | date | list


@dataclass
class ChainNode:
    type: str
    words: str
    id: str
    facts: list[Fact]
    parameters: list[Fact] = field(default_factory=list)
    children: list[ChainNode] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def _fact(key: str, label: str, value: Any) -> Fact:
    if key in DATE_KEYS and (when := _when(value)) is not None:
        return Fact(label, when, "date")
    if isinstance(value, list):
        return Fact(label, [str(item) for item in value], "list")
    return Fact(label, value, "digest" if key in DIGEST_KEYS else "text")


def _node(entry: dict) -> ChainNode:
    known = {"id", *dict(NODE_FACTS)}
    facts = [_fact(key, label, entry[key]) for key, label in NODE_FACTS if entry.get(key) not in (None, "", [])]
    facts += [
        _fact(key, key.replace("_", " ").capitalize(), value)
        for key, value in entry.items()
        if key not in known and key not in ("type", "parameters") and value not in (None, "", [], {})
        and not isinstance(value, dict)
    ]  # fmt: skip
    parameters = entry.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    return ChainNode(
        type=str(entry.get("type")),
        words=TYPE_WORDS.get(str(entry.get("type")), str(entry.get("type"))),
        id=str(entry.get("id", "")),
        facts=facts,
        parameters=[_fact(str(key), str(key).replace("_", " ").capitalize(), value) for key, value in parameters.items()],
    )


def chain_tree(chain: list[dict]) -> list[ChainNode]:
    """The chain as a tree: the output, its model under it, the model's base model and snapshot
    under that. Entries of other types, or a chain without an output, stay a flat list."""
    nodes = [_node(entry) for entry in chain if isinstance(entry, dict)]
    by_type = {node.type: node for node in nodes}
    output, model = by_type.get("output"), by_type.get("model")
    if output is None or model is None:
        return nodes
    output.children.append(model)
    model.children.extend(node for node in nodes if node.type in ("base_model", "snapshot"))
    placed = {id(output), id(model), *(id(node) for node in model.children)}
    return [output, *(node for node in nodes if id(node) not in placed)]


def _position(order: list[str], name: str) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


def _taint(entries: Any) -> list[dict]:
    """Each lapsed consent once (the service may name it once per image it covers)."""
    seen, taint = set(), []
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        key = (entry.get("snapshot_id"), entry.get("consent_id"), entry.get("event"))
        if key not in seen:
            seen.add(key)
            taint.append({**entry, "at": _when(entry.get("at"))})
    return taint


def _mining(training_mining: Any) -> dict | None:
    if not isinstance(training_mining, dict):
        return None
    rows = []
    entries = training_mining.get("entries") or {}
    order = list(MINING_ENTRIES)
    for key, use in sorted(entries.items(), key=lambda item: _position(order, str(item[0]).rsplit(".", 1)[-1])):
        name = str(key).rsplit(".", 1)[-1]
        use_word = use.get("use") if isinstance(use, dict) else use
        use_word = str(use_word)
        rows.append(
            {
                "key": str(key),
                "words": MINING_ENTRIES.get(name, name),
                "use": use_word,
                "use_words": MINING_USES.get(use_word, use_word),
            }
        )
    labels = [str(label) for label in training_mining.get("labels") or []]
    return {"rows": rows, "labels": labels, "sentence": training_mining.get("sentence")}


def _signer(signer: Any) -> dict | None:
    if not isinstance(signer, dict):
        return None
    return {**signer, "signed_at": _when(signer.get("signed_at"))}


def verdict_view(verdict: dict | None) -> dict | None:
    """Everything the result template shows of `verdict`; None when there is none yet."""
    if not isinstance(verdict, dict):
        return None
    word = verdict["verdict"]
    failures = verdict.get("failures") or []
    confidence = verdict.get("confidence") if isinstance(verdict.get("confidence"), dict) else None
    return {
        "word": word,
        "modifier": word.lower(),
        "glyph": GLYPHS[word],
        "summary": verdict.get("summary"),
        "chain": chain_tree(verdict.get("chain") or []),
        "chain_state": verdict.get("chain_state") if verdict.get("chain_state") in WORDS else None,
        "confidence": confidence,
        "binding_words": BINDING_WORDS.get(str((confidence or {}).get("binding") or verdict.get("traced_by")), ""),
        "taint": _taint(verdict.get("taint")),
        "failures": [entry for entry in failures if isinstance(entry, dict)],
        "signer": _signer(verdict.get("signer")),
        "mining": _mining(verdict.get("training_mining")),
        "sha256": verdict.get("sha256"),
        "manifest": verdict.get("manifest"),
    }
