"""Signing and reading the platform's C2PA manifests: containers, ingredient archives and images.

The chain of provenance is built from `inputTo` ingredients: a snapshot container is an
ingredient of the model container, whose ingredient archive is an ingredient of every output
image, so an image carries every ancestor's manifest (see FACTS.md). The SDK keeps no hash of a
non-image ingredient's bytes: callers bind digests in the ingredient's `metadata`.

Reading never touches the network (no remote manifests, no OCSP) and validates against the
configured trust anchors: `Trusted` means signed by an identity those anchors vouch for,
`Valid` only that the signatures and hashes hold.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any

import c2pa

from core.exceptions import ApplicationError
from provenance.c2pa.reader import READING_SETTINGS, read_c2pa
from provenance.c2pa.signer import open_signer, trust_anchors_pem

CONTAINER_MIME_TYPE = "application/x-zip"  # the SDK refuses "application/zip"
IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
CLAIM_GENERATOR = {"name": "Cleanroom", "version": "0.1.0"}
# A ZIP member's timestamp: fixed, so the same files always make the same unsigned container.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_ARCHIVED_INGREDIENT = "ingredient"
RELATIONSHIPS = ("inputTo", "componentOf", "parentOf")


@dataclass
class Ingredient:
    """One ingredient of a manifest, in one of three forms:

    - `data`: a signed asset (a signed container or image); its manifest is nested;
    - `archive`: an ingredient archive from `ingredient_archive` (title, relationship,
      data types and metadata are those baked into the archive);
    - neither: a reference carrying only its metadata (e.g. a base model's weight digests).
    """

    title: str
    mime_type: str
    data: bytes | None = None
    archive: bytes | None = None
    relationship: str = "inputTo"
    data_types: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.relationship not in RELATIONSHIPS:
            raise ValueError(f"ingredient relationship {self.relationship!r} is not one of {', '.join(RELATIONSHIPS)}")

    def definition(self) -> dict:
        return {
            "title": self.title,
            "format": self.mime_type,
            "relationship": self.relationship,
            "data_types": [{"type": data_type} for data_type in self.data_types],
            "metadata": self.metadata,
        }


# --- Signing --------------------------------------------------------------------------------------


def _camel_case(name: str) -> str:
    first, *rest = name.lower().split("_")
    return first + "".join(part.title() for part in rest)


DIGITAL_SOURCE_TYPES = {_camel_case(kind.name): kind for kind in c2pa.C2paDigitalSourceType if kind.name != "EMPTY"}


def _anchors_or_none() -> str | None:
    try:
        return trust_anchors_pem()
    except ApplicationError:
        return None


@lru_cache(maxsize=8)
def _signing_context(trust_anchors: str | None, thumbnail: bool, process_id: int) -> c2pa.Context:
    # Keyed by process id: a Context made before a fork is unusable in the child. The anchors
    # let the SDK record an ingredient's validation as trusted when it nests it.
    settings: dict[str, Any] = {**READING_SETTINGS, "builder": {"thumbnail": {"enabled": thumbnail}}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    return c2pa.Context.from_dict(settings)


def _sign(
    *,
    asset: bytes | IO[bytes],
    mime_type: str,
    title: str,
    assertions: Sequence[dict],
    ingredients: Iterable[Ingredient],
    digital_source_type: str,
    thumbnail: bool,
    destination: IO[bytes] | None = None,
) -> bytes:
    """The signed asset's bytes; or, given a `destination` (a seekable file), written there and b""."""
    if digital_source_type not in DIGITAL_SOURCE_TYPES:
        raise ValueError(f"unknown digital source type {digital_source_type!r}")
    ingredients = list(ingredients)
    if any(ingredient.relationship == "parentOf" for ingredient in ingredients):
        # Every manifest here records a creation (the SDK's CREATE intent), which has no parent:
        # an image-to-image source is a componentOf ingredient.
        raise ValueError("a created asset has no parentOf ingredient; use componentOf or inputTo")
    references = [ingredient.definition() for ingredient in ingredients if ingredient.data is None and ingredient.archive is None]
    manifest = {
        "claim_generator_info": [CLAIM_GENERATOR],
        "title": title,
        "format": mime_type,
        "assertions": list(assertions),
        "ingredients": references,
    }
    context = _signing_context(_anchors_or_none(), thumbnail, os.getpid())
    buffer = io.BytesIO()
    signed = destination if destination is not None else buffer
    source = io.BytesIO(asset) if isinstance(asset, bytes) else asset
    with open_signer() as signer, c2pa.Builder(manifest, context=context) as builder:
        builder.set_intent(c2pa.C2paBuilderIntent.CREATE, DIGITAL_SOURCE_TYPES[digital_source_type])
        for ingredient in ingredients:
            if ingredient.archive is not None:
                builder.add_ingredient_from_archive(io.BytesIO(ingredient.archive))
            elif ingredient.data is not None:
                builder.add_ingredient(ingredient.definition(), ingredient.mime_type, io.BytesIO(ingredient.data))
        builder.sign(signer, mime_type, source, signed)
    return b"" if destination is not None else buffer.getvalue()


def zip_files(files: dict[str, bytes]) -> bytes:
    """An uncompressed ZIP (the SDK cannot read deflated members) with members in name order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or name.startswith("META-INF/"):
                raise ValueError(f"unsafe or reserved member name {name!r}")
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIMESTAMP), files[name])
    return buffer.getvalue()


def sign_container(
    *,
    files: dict[str, bytes],
    title: str,
    assertions: list[dict],
    ingredients: Sequence[Ingredient] = (),
    digital_source_type: str = "digitalCreation",
) -> bytes:
    """A ZIP of `files` signed as application/x-zip; the manifest goes in META-INF/content_credential.c2pa."""
    return _sign(
        asset=zip_files(files),
        mime_type=CONTAINER_MIME_TYPE,
        title=title,
        assertions=assertions,
        ingredients=ingredients,
        digital_source_type=digital_source_type,
        thumbnail=False,
    )


def sign_container_file(*, source: IO[bytes], destination: IO[bytes], title: str, assertions: list[dict]) -> None:
    """Sign an uncompressed ZIP read from `source` (too large to hold in memory, e.g. a compliance
    pack) into `destination`, a seekable file, as application/x-zip."""
    _sign(
        asset=source,
        mime_type=CONTAINER_MIME_TYPE,
        title=title,
        assertions=assertions,
        ingredients=(),
        digital_source_type="digitalCreation",
        thumbnail=False,
        destination=destination,
    )


def container_files(container: bytes) -> dict[str, bytes]:
    """The members of a signed container, without its manifest."""
    with zipfile.ZipFile(io.BytesIO(container)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.startswith("META-INF/")}


def sign_image(
    *,
    image: bytes,
    mime_type: str,
    title: str,
    assertions: list[dict],
    ingredients: Sequence[Ingredient],
    digital_source_type: str = "trainedAlgorithmicMedia",
    thumbnail: bool = False,
) -> bytes:
    """The image with its manifest embedded: a `c2pa.created` action of `digital_source_type`.

    No thumbnail by default: the SDK's (long edge 1024) adds ~0.5 MB and tens of milliseconds
    per 1024² image, and repeats pixels the image already holds.
    """
    if mime_type not in IMAGE_MIME_TYPES:
        raise ValueError(f"cannot sign {mime_type!r} images (one of {', '.join(IMAGE_MIME_TYPES)})")
    return _sign(
        asset=image,
        mime_type=mime_type,
        title=title,
        assertions=assertions,
        ingredients=ingredients,
        digital_source_type=digital_source_type,
        thumbnail=thumbnail,
    )


def ingredient_archive(ingredient: Ingredient) -> bytes:
    """A reusable ingredient: `ingredient.data` (a signed asset) with its nested manifests, its
    relationship, data types and metadata, ready for `Ingredient(archive=...)` in later manifests."""
    if ingredient.data is None:
        raise ValueError("an ingredient archive is made from the signed asset's bytes (Ingredient.data)")
    context = _signing_context(_anchors_or_none(), False, os.getpid())
    archive = io.BytesIO()
    with c2pa.Builder({"claim_generator_info": [CLAIM_GENERATOR]}, context=context) as builder:
        definition = {**ingredient.definition(), "label": _ARCHIVED_INGREDIENT}
        builder.add_ingredient(definition, ingredient.mime_type, io.BytesIO(ingredient.data))
        builder.write_ingredient_archive(_ARCHIVED_INGREDIENT, archive)
    return archive.getvalue()


# --- Assertions the platform writes -------------------------------------------------------------

TRAINING_MINING_ENTRIES = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference", "cawg.data_mining")


def training_mining_assertion(use: str = "notAllowed") -> dict:
    """`cawg.training-mining` with every entry set to `use` ("allowed", "notAllowed", "constrained")."""
    return {"label": "cawg.training-mining", "data": {"entries": {entry: {"use": use} for entry in TRAINING_MINING_ENTRIES}}}


def soft_binding_assertion(*, alg: str, value: str, name: str | None = None, alg_params: str | None = None) -> dict:
    """`c2pa.soft-binding` in the shape c2pa-rs accepts: one algorithm per assertion (repeat the
    assertion for a second algorithm), one block over the whole asset, `pad` present."""
    data: dict[str, Any] = {"alg": alg, "blocks": [{"scope": {}, "value": value}], "pad": []}
    if name:
        data["name"] = name
    if alg_params:
        data["alg_params"] = alg_params
    return {"label": "c2pa.soft-binding", "data": data}


# --- Reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestReading:
    state: str | None  # "Trusted", "Valid", "Invalid", or None when there is no readable manifest
    trusted: bool
    active_label: str | None
    store: dict
    errors: list[str]  # validation failure codes, e.g. "assertion.dataHash.mismatch"
    found: bool = True  # False when the file carries no manifest at all
    problem: str | None = None  # why a manifest that is there could not be read

    @property
    def active_manifest(self) -> dict | None:
        return (self.store.get("manifests") or {}).get(self.active_label or "")


def read_manifest(data: bytes, mime_type: str) -> ManifestReading:
    """Validate `data`'s manifest store against the configured anchors, without any network."""
    store = read_c2pa(data, mime_type, trust_anchors_pem=trust_anchors_pem())
    if store is None:
        return ManifestReading(state=None, trusted=False, active_label=None, store={}, errors=[], found=False)
    state = store.get("validation_state")
    return ManifestReading(
        state=state,
        trusted=state == "Trusted",
        active_label=store.get("active_manifest"),
        store=store,
        errors=list(store.get("validation_status") or []),
        problem=store.get("error"),
    )


def _assertions(manifest: dict) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for assertion in manifest.get("assertions") or []:
        label = assertion.get("label")
        instance = assertion.get("instance")
        found[f"{label}__{instance}" if instance else label] = assertion.get("data")
    return found


def _node(manifest_label: str | None, manifest: dict | None, ingredient: dict | None, parent: str | None, depth: int) -> dict:
    ingredient = ingredient or {}
    manifest = manifest or {}
    return {
        "label": manifest_label,
        "title": ingredient.get("title") or manifest.get("title"),
        "depth": depth,
        "parent": parent,
        "relationship": ingredient.get("relationship"),
        "data_types": [entry.get("type") for entry in ingredient.get("data_types") or [] if isinstance(entry, dict)],
        "metadata": ingredient.get("metadata") or {},
        "assertions": _assertions(manifest),
        "signature": manifest.get("signature_info") or {},
    }


def chain(reading: ManifestReading) -> list[dict]:
    """The active manifest, then its ingredients depth first (output → model → snapshot / base model).

    Each node: `label` (the ingredient's manifest label; None for a reference without one),
    `title`, `depth`, `parent` (label of the manifest that lists it), `relationship`,
    `data_types`, `metadata` (the ingredient's, where digests are bound), `assertions`
    (label → data of the node's own manifest; a repeated label gets `__1`, `__2`...) and
    `signature` (issuer, common name, time).
    """
    manifests = reading.store.get("manifests") or {}
    if not reading.active_label or reading.active_label not in manifests:
        return []
    nodes = [_node(reading.active_label, manifests[reading.active_label], None, None, 0)]
    seen = {reading.active_label}

    def walk(label: str, depth: int) -> None:
        for ingredient in manifests[label].get("ingredients") or []:
            nested = ingredient.get("active_manifest")
            if nested in seen:
                continue
            nodes.append(_node(nested, manifests.get(nested), ingredient, label, depth))
            if nested in manifests:
                seen.add(nested)
                walk(nested, depth + 1)

    walk(reading.active_label, 1)
    return nodes
