"""The lineage contract: what the chain's manifests say about the snapshot, the base model, the
model and the output, written by the signers and read back by `verify`.

One dataclass per place the chain records ids and digests, each with `to_json()` (the assertion
data or ingredient metadata, exactly as signed) and `from_json()` (which refuses a missing or
mistyped key with `LineageMalformed`):

- `SnapshotAssertion`: `org.cleanroom.snapshot`, in the snapshot's signed container;
- `ModelAssertion`: `org.cleanroom.model`, in the model's signed container;
- `SnapshotIngredient`, `BaseModelIngredient`: the model container's `inputTo` ingredients;
- `ModelIngredient`: the model as the output's `inputTo` ingredient;
- `OutputLineage`: `org.cleanroom.lineage`, in every released output.

The labels, the keys and their order are part of what was signed: outputs already released must
still verify, so a field is never renamed or reordered here, only added at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

LINEAGE_LABEL = "org.cleanroom.lineage"
MODEL_ASSERTION = "org.cleanroom.model"
SNAPSHOT_ASSERTION = "org.cleanroom.snapshot"
DATASET_TYPE = "c2pa.types.dataset"
MODEL_TYPE = "c2pa.types.model"
# Ingredient metadata keys may also be read under this prefix (C2PA's convention for private
# keys); ours are written without it.
METADATA_PREFIX = "org.cleanroom."


class LineageMalformed(ValueError):
    """A manifest's lineage data lacks a key, or holds a value of the wrong type."""


@dataclass(frozen=True)
class _Record:
    """Fields are written in declaration order: that order is part of the signed bytes."""

    def to_json(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Any, *, prefixed: bool = False) -> Self:
        """The record in `data`; `prefixed` also accepts `org.cleanroom.<key>` (ingredient metadata)."""
        if not isinstance(data, Mapping):
            raise LineageMalformed(f"{cls.what} is {type(data).__name__}, not an object")
        values = {}
        for item in dataclasses.fields(cls):
            value = data.get(f"{METADATA_PREFIX}{item.name}", data.get(item.name)) if prefixed else data.get(item.name)
            values[item.name] = _checked(cls.what, item.name, value, item.type)
        return cls(**values)

    what = "the lineage"


def _checked(what: str, key: str, value: Any, annotation: Any) -> Any:
    kinds = {"str": (str,), "int": (int,), "int | None": (int, type(None)), "list[dict]": (list,)}[str(annotation)]
    if value is None and type(None) not in kinds:
        raise LineageMalformed(f"{what} has no {key}")
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise LineageMalformed(f"{what}'s {key} is {type(value).__name__}, not {annotation}")
    if annotation == "list[dict]" and not all(isinstance(entry, dict) for entry in value):
        raise LineageMalformed(f"{what}'s {key} holds something other than objects")
    return value


@dataclass(frozen=True)
class SnapshotAssertion(_Record):
    snapshot_id: str
    dataset: str
    merkle_root: str
    leaf_format: str
    asset_count: int
    document_sha256: str

    what = "the snapshot assertion"


@dataclass(frozen=True)
class ModelAssertion(_Record):
    model_id: str
    lora_sha256: str
    training_run_id: str
    snapshot_id: str
    merkle_root: str
    base_model_id: str
    base_model_sha256: str

    what = "the model assertion"


@dataclass(frozen=True)
class SnapshotIngredient(_Record):
    snapshot_id: str
    merkle_root: str
    container_sha256: str

    what = "the snapshot ingredient's metadata"


@dataclass(frozen=True)
class BaseModelIngredient(_Record):
    base_model_id: str
    name: str
    licence: str
    sha256: str
    files: list[dict]  # [{path, sha256}] of every file, as registered

    what = "the base model ingredient's metadata"


@dataclass(frozen=True)
class ModelIngredient(_Record):
    model_id: str
    lora_sha256: str
    container_sha256: str

    what = "the model ingredient's metadata"


@dataclass(frozen=True)
class OutputLineage(_Record):
    output_id: str
    watermark_id: int | None  # None when the output carries no watermark
    job_id: str
    kind: str
    model_id: str
    model_sha256: str
    model_container_sha256: str
    base_model_id: str
    base_model_name: str
    base_model_sha256: str
    snapshot_id: str
    merkle_root: str

    what = "the lineage assertion"

    @staticmethod
    def output_id_in(data: Any) -> str | None:
        """The output id of lineage data that may be malformed otherwise (a verifier finds the
        output by it, then reports what else is wrong)."""
        value = data.get("output_id") if isinstance(data, Mapping) else None
        return value if isinstance(value, str) and value else None
