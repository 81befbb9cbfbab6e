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

    @property
    def intact(self) -> bool:
        """Whether the manifest's integrity holds, every ingredient's included: signatures and
        hashes check out (c2pa-rs `Valid` or `Trusted`), whoever signed. An untrusted signer is
        a matter of trust (`trusted`), not of integrity."""
        if not self.found or self.state not in ("Valid", "Trusted"):
            return False
        return all(failure.code in TRUST_FAILURES for failure in validation_failures(self))


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


# The failure codes that say who signed, not whether the signed bytes changed.
TRUST_FAILURES = frozenset({"signingCredential.untrusted"})
_ACTIVE = "the image's own manifest"
_DATA_TYPE_WORDS = {"c2pa.types.model": "model", "c2pa.types.dataset": "dataset"}


@dataclass(frozen=True)
class ValidationFailure:
    """One failure the validator reports: in the active manifest (`ingredient` None) or in the
    ingredient the store's `ingredientDeltas` name (its title and kind)."""

    code: str
    explanation: str
    where: str  # plain words: "the image's own manifest", "ingredient 'model 12…' (model)"
    ingredient: str | None = None  # the ingredient's title

    @property
    def integrity(self) -> bool:
        return self.code not in TRUST_FAILURES


def validation_failures(reading: ManifestReading) -> list[ValidationFailure]:
    """Every failure in the store, the active manifest's first, then each ingredient's (at any
    depth) named by its title; a store without per-manifest results falls back to its codes."""
    results = reading.store.get("validation_results")
    if not isinstance(results, dict) or not results:
        return [ValidationFailure(code=code, explanation="", where=_ACTIVE) for code in reading.errors]
    failures = [
        ValidationFailure(code=entry["code"], explanation=str(entry.get("explanation") or ""), where=_ACTIVE)
        for entry in _failure_entries(results.get("activeManifest"))
    ]
    for delta in results.get("ingredientDeltas") or []:
        if not isinstance(delta, dict):
            continue
        title, where = _ingredient_named(reading, delta.get("ingredientAssertionURI"))
        failures += [
            ValidationFailure(code=entry["code"], explanation=str(entry.get("explanation") or ""), where=where, ingredient=title)
            for entry in _failure_entries(delta.get("validationDeltas"))
        ]
    return failures


def _failure_entries(results: Any) -> list[dict]:
    entries = (results.get("failure") if isinstance(results, dict) else None) or []
    return [entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("code"), str)]


def _ingredient_named(reading: ManifestReading, uri: Any) -> tuple[str | None, str]:
    """The title of the ingredient assertion `self#jumbf=/c2pa/<manifest>/c2pa.assertions/<label>`
    points at, and plain words for it."""
    manifest_label, _, assertion_label = str(uri or "").removeprefix("self#jumbf=/c2pa/").partition("/c2pa.assertions/")
    manifest = (reading.store.get("manifests") or {}).get(manifest_label) or {}
    for ingredient in manifest.get("ingredients") or []:
        if isinstance(ingredient, dict) and ingredient.get("label") == assertion_label:
            title = str(ingredient.get("title") or "untitled")
            kinds = [entry.get("type") for entry in ingredient.get("data_types") or [] if isinstance(entry, dict)]
            kind = next((_DATA_TYPE_WORDS[k] for k in kinds if k in _DATA_TYPE_WORDS), ingredient.get("format") or "ingredient")
            return title, f"ingredient '{title}' ({kind})"
    return None, "an ingredient of the manifest"


def signature_of(reading: ManifestReading) -> dict | None:
    """Who signed the active manifest, as the store reports it: `name` (common name, else
    organisation), `issuer`, `signed_at` (the time-stamp's time, when there is one),
    `time_stamped`, `trusted` (the validator found the signer among the trust anchors); None
    without a readable manifest."""
    manifest = reading.active_manifest
    if manifest is None:
        return None
    found = manifest.get("signature_info")
    info: dict = found if isinstance(found, dict) else {}
    signed_at = info.get("time") if isinstance(info.get("time"), str) else None
    return {
        "name": info.get("common_name") or info.get("issuer") or "an unnamed signer",
        "issuer": info.get("issuer"),
        "signed_at": signed_at,
        "time_stamped": signed_at is not None,
        "trusted": "signingCredential.trusted" in _success_codes(reading),
    }


def _success_codes(reading: ManifestReading) -> set[str]:
    results = reading.store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    entries = (active.get("success") if isinstance(active, dict) else None) or []
    return {str(entry.get("code")) for entry in entries if isinstance(entry, dict)}


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
