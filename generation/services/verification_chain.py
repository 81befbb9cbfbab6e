"""The chain output → model → base model → snapshot, read from a manifest and checked against the
platform's records (for `generation.services.verification`).

Every id and digest the manifest states must agree with the rows (`mismatches`); a snapshot or
base model that may no longer be used is a `refusal`, and each consent behind the snapshot that
no longer holds is named with when it lapsed (`taint`). The entries carry what a person checking
the chain wants to see: statuses, dates, the snapshot's approvers and size, and the output's
public generation parameters (never its prompt or who asked for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from generation.models import Output
from provenance.c2pa.lineage import (
    DATASET_TYPE,
    LINEAGE_LABEL,
    MODEL_TYPE,
    BaseModelIngredient,
    LineageMalformed,
    ModelIngredient,
    OutputLineage,
    SnapshotIngredient,
)
from provenance.c2pa.manifests import ManifestReading, chain
from provenance.exports.records import snapshot_report
from provenance.selectors import consent_states, snapshot_lapsed_consents, snapshot_refusal
from training.selectors import base_model_refusal, model_refusal

R = TypeVar("R", ModelIngredient, SnapshotIngredient, BaseModelIngredient)
# The generation parameters a verdict shows: how the image was made, never what was asked for.
PUBLIC_PARAMETERS = ("steps", "guidance", "strength", "scale")


@dataclass
class ChainCheck:
    entries: list[dict] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # "chain.mismatch: …", "chain.malformed: …", …
    refusals: list[str] = field(default_factory=list)  # "snapshot_tainted: …", "base_model_not_approved: …"
    taint: list[dict] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [*self.mismatches, *self.refusals]


def lineage_data(reading: ManifestReading) -> Any:
    """What the active manifest holds under the lineage label (anything, in a hostile manifest)."""
    for assertion in (reading.active_manifest or {}).get("assertions") or []:
        if assertion.get("label") == LINEAGE_LABEL:
            return assertion.get("data")
    return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _metadata(node: dict | None, record: type[R], errors: list[str], missing: str) -> R | None:
    """The ingredient's metadata as `record`, or None with the reason in `errors`."""
    if node is None:
        errors.append(f"chain.missing: {missing}")
        return None
    try:
        return record.from_json(node.get("metadata") or {}, prefixed=True)
    except LineageMalformed as malformed:
        errors.append(f"chain.malformed: {malformed}")
        return None


def chain_check(reading: ManifestReading, output: Output) -> ChainCheck:
    """Cross-check `reading`'s chain against `output`'s rows (see the module's docstring)."""
    nodes = chain(reading)
    check = ChainCheck()
    errors = check.mismatches
    artifact = output.job.model
    snapshot, base_model = artifact.snapshot, artifact.base_model

    def expect(what: str, found: Any, wanted: Any) -> None:
        if found is None or str(found) != str(wanted):
            errors.append(f"chain.mismatch: {what} is {found!r} in the manifest, {wanted!r} in the platform's records")

    lineage: OutputLineage | None = None
    data = lineage_data(reading)
    try:
        if data is None:
            raise LineageMalformed(f"the manifest has no {LINEAGE_LABEL} assertion")
        lineage = OutputLineage.from_json(data)
    except LineageMalformed as malformed:
        errors.append(f"chain.malformed: {malformed}")
    else:
        expect("the output id", lineage.output_id, output.pk)
        expect("the generation job", lineage.job_id, output.job_id)
        expect("the model id", lineage.model_id, artifact.pk)
        expect("the model's sha256", lineage.model_sha256, artifact.sha256)
        expect("the model container's sha256", lineage.model_container_sha256, artifact.container_sha256)
        expect("the snapshot id", lineage.snapshot_id, snapshot.pk)
        expect("the snapshot's Merkle root", lineage.merkle_root, snapshot.merkle_root)
        expect("the base model id", lineage.base_model_id, base_model.pk)
        expect("the base model's sha256", lineage.base_model_sha256, base_model.sha256)

    model_node = next((n for n in nodes if n["depth"] == 1 and MODEL_TYPE in n["data_types"]), None)
    snapshot_node = next((n for n in nodes if n["depth"] == 2 and DATASET_TYPE in n["data_types"]), None)
    base_node = next((n for n in nodes if n["depth"] == 2 and MODEL_TYPE in n["data_types"]), None)
    model = _metadata(model_node, ModelIngredient, errors, "the manifest has no model ingredient")
    if model is not None:
        expect("the model ingredient's id", model.model_id, artifact.pk)
        expect("the model ingredient's sha256", model.lora_sha256, artifact.sha256)
        expect("the model container's sha256", model.container_sha256, artifact.container_sha256)
    snapshot_ingredient = _metadata(snapshot_node, SnapshotIngredient, errors, "the model's manifest has no snapshot ingredient")
    if snapshot_ingredient is not None:
        expect("the snapshot ingredient's id", snapshot_ingredient.snapshot_id, snapshot.pk)
        expect("the snapshot ingredient's Merkle root", snapshot_ingredient.merkle_root, snapshot.merkle_root)
        expect("the snapshot container's sha256", snapshot_ingredient.container_sha256, snapshot.container_sha256)
    base = _metadata(base_node, BaseModelIngredient, errors, "the model's manifest has no base model ingredient")
    if base is not None:
        expect("the base model ingredient's id", base.base_model_id, base_model.pk)
        expect("the base model ingredient's sha256", base.sha256, base_model.sha256)

    if not output.released:
        errors.append(f"output.not_released: output {output.pk} was never released")
    for refusal in (snapshot_refusal(snapshot), base_model_refusal(base_model)):
        if refusal is not None:
            check.refusals.append(f"{refusal.code}: {refusal.message}")
    check.taint = snapshot_taint(snapshot)

    report = snapshot_report(snapshot)
    check.entries = [
        {
            "type": "output",
            "id": str(output.pk),
            "sha256": output.sha256,
            "job_id": str(output.job_id),
            "created_at": _iso(output.released_at or output.created_at),
            "parameters": output_parameters(output, lineage, nodes[0] if nodes else None),
        },
        {
            "type": "model",
            "id": str(artifact.pk),
            "sha256": artifact.sha256,
            "created_at": _iso(artifact.created_at),
            "status": "usable" if model_refusal(artifact) is None else "flagged",
        },
        {
            "type": "base_model",
            "id": str(base_model.pk),
            "sha256": base_model.sha256,
            "name": base_model.name,
            "status": base_model.status,
            "created_at": _iso(base_model.created_at),
        },
        {
            "type": "snapshot",
            "id": str(snapshot.pk),
            "merkle_root": snapshot.merkle_root,
            "sha256": snapshot.container_sha256,
            "status": snapshot.status,
            "created_at": _iso(snapshot.created_at),
            "approved_at": report.approved_at or None,
            "approvers": list(dict.fromkeys(approval.reviewer for approval in report.approvals)),
            "member_count": report.member_count,
        },
    ]
    return check


def snapshot_taint(snapshot) -> list[dict]:
    """Each consent in the snapshot's frozen list that no longer holds: revoked or expired, and when."""
    lapsed = snapshot_lapsed_consents(snapshot)
    states = consent_states(lapsed)
    taint = []
    for consent_id in lapsed:
        state = next((s for pk, s in states.items() if str(pk) == consent_id), None)
        if state is None:
            continue
        event, at = ("revoked", state.revoked_at) if state.status == "revoked" else ("expired", state.expires_at)
        taint.append({"snapshot_id": str(snapshot.pk), "consent_id": consent_id, "event": event, "at": _iso(at)})
    return sorted(taint, key=lambda entry: (entry["at"] or "", entry["consent_id"]))


def output_parameters(output: Output, lineage: OutputLineage | None, node: dict | None) -> dict:
    """How the image was made: its kind and digital source type as the manifest states them, its
    size, seed and the pipeline's settings from the job (never the prompt or the requester)."""
    job = output.job
    actions = ((node or {}).get("assertions") or {}).get("c2pa.actions.v2") or {}
    created = next(
        (a for a in actions.get("actions") or [] if isinstance(a, dict) and a.get("action") == "c2pa.created"), {}
    ) if isinstance(actions, dict) else {}  # fmt: skip
    parameters: dict[str, Any] = {
        "kind": lineage.kind if lineage is not None else str(job.kind),
        "width": output.width,
        "height": output.height,
        "seed": job.seed,
        **{name: job.parameters[name] for name in PUBLIC_PARAMETERS if job.parameters.get(name) is not None},
    }
    source_type = created.get("digitalSourceType") if isinstance(created, dict) else None
    if isinstance(source_type, str):
        parameters["digital_source_type"] = source_type.rsplit("/", 1)[-1]
    return parameters
