"""Faces and likeness consent: the one place that decides when a face found in an image needs no
reviewer, and what happens when the consent behind that decision lapses.

A face finding (`pii.face.*`) is recorded `informational` instead of `open` only when, at the
moment its audit is recorded, the asset's consent:

- is active (granted, not expired, not revoked: `consent_state`, the same fold snapshots use);
- grants the `likeness` scope itself, and names depicted persons who each grant it too (the
  consent file's parser already refuses a likeness grant without them; checked again here, since
  the rule must not rest on a parser of the past);
- names at least as many persons as faces were found: with more faces than named persons, at
  least one face is of someone who agreed to nothing, and no one can tell which, so every face
  of the image stays blocking.

Anything short of that leaves every face `open`, as before. The audit event of the run records
the basis either way (the consent, its digest, the persons named, or why it did not cover), so
the log alone answers "why was this face let through?".

When the consent lapses (revoked, or its expiry recorded), provenance announces it
(`hooks.consent_lapsed`) and `likeness_consent_lapsed` turns each face it covered back to
`open`, with a `finding.reclassified` event each, and moves the assets that those faces no
longer leave clear (clear, approved) to `flagged` through the asset state machine. A renewal
does not turn them back: a consent that lapsed once is for a reviewer to look at again.
Re-auditing is not needed: what the detector found has not changed, only its legal basis.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection

from auditing.auditors.base import FindingDraft
from auditing.models import Finding, FindingStatus
from core.audit import AuditEntry, audit_append_many
from core.models import EventType
from core.roles import Actor
from provenance.models import Asset, AssetStatus, ConsentRecord, ConsentScope
from provenance.selectors import consent_state
from provenance.services.assets import assets_transition

FACE_CODE_PREFIX = "pii.face."
# Assets that a face finding no longer covered must leave: those it let through.
_LET_THROUGH = [AssetStatus.CLEAR, AssetStatus.APPROVED]


def is_face(code: str) -> bool:
    return code.startswith(FACE_CODE_PREFIX)


@dataclass(frozen=True)
class LikenessDecision:
    """How the faces of one audit run are recorded: `informational` under `consent`, or `open`;
    `basis` is what the run's audit event says about it."""

    consent: ConsentRecord | None
    basis: dict[str, Any]

    @property
    def status(self) -> str:
        return FindingStatus.INFORMATIONAL if self.consent is not None else FindingStatus.OPEN


def likeness_decide(asset: Asset, drafts: list[FindingDraft]) -> LikenessDecision | None:
    """Whether the faces among `drafts` are covered by the asset's likeness consent (None when
    there are no faces). Call inside the transaction that records the findings: the consent row
    is locked FOR SHARE, so a revocation or an expiry pass (which lock it FOR UPDATE) either
    comes first and is seen here, or comes after and finds these findings to reopen."""
    faces = sum(1 for draft in drafts if is_face(draft.code))
    if not faces:
        return None
    if connection.vendor == "postgresql":
        # FOR SHARE (which the ORM cannot ask for): audits of the consent's other images still
        # run side by side; only a revocation or expiry waits. The table name is the model's
        # own. SQLite (the embedded default) has no row locks and needs none: one writer at a time.
        table = ConsentRecord._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR SHARE", [asset.consent_id])  # noqa: S608
    consent = ConsentRecord.objects.get(pk=asset.consent_id)
    persons = sorted(consent.depicted_persons.values_list("name", "scopes"))
    basis: dict[str, Any] = {"consent_id": str(consent.pk), "consent_digest": consent.digest, "faces": faces}
    gap = _gap(consent, faces, persons)
    if gap is not None:
        return LikenessDecision(consent=None, basis={**basis, "outcome": FindingStatus.OPEN.value, "why": gap})
    named = [name for name, _ in persons]
    return LikenessDecision(consent=consent, basis={**basis, "outcome": FindingStatus.INFORMATIONAL.value, "persons": named})


def _gap(consent: ConsentRecord, faces: int, persons: list[tuple[str, list[str]]]) -> str | None:
    """Why this consent does not cover these faces' likeness, or None when it does."""
    state = consent_state(consent)
    if not state.active:
        return f"the consent is {state.status.replace('_', ' ')}"
    if ConsentScope.LIKENESS not in state.scopes:
        return "the consent does not grant the likeness scope"
    if not persons or any(ConsentScope.LIKENESS not in scopes for _, scopes in persons):
        return "the consent does not name each person shown with their own likeness grant"
    if faces > len(persons):
        return f"{faces} faces were found but the consent names {len(persons)} person(s)"
    return None


def likeness_consent_lapsed(consent_id: str, actor: Actor, reason: str) -> list[str]:
    """The consent no longer holds: each face it made informational is open again (one
    `finding.reclassified` event each, saying why), and each asset those faces had let through
    is flagged for a reviewer. Runs inside the transaction that records the lapse; returns the
    findings reopened."""
    findings = list(
        Finding.objects.select_for_update()
        .filter(covering_consent=uuid.UUID(consent_id), status=FindingStatus.INFORMATIONAL)
        .order_by("created_at", "pk")
    )
    if not findings:
        return []
    Finding.objects.filter(pk__in=[finding.pk for finding in findings]).update(status=FindingStatus.OPEN)
    audit_append_many(
        [
            AuditEntry(
                actor=actor,
                event_type=EventType.FINDING_RECLASSIFIED,
                subject=finding,
                details={
                    "asset_id": str(finding.asset_id),
                    "code": finding.code,
                    "from": FindingStatus.INFORMATIONAL.value,
                    "to": FindingStatus.OPEN.value,
                    "consent_id": consent_id,
                    "reason": f"likeness no longer consented: {reason}",
                },
            )
            for finding in findings
        ]
    )
    let_through = Asset.objects.filter(pk__in={finding.asset_id for finding in findings}, status__in=_LET_THROUGH)
    assets_transition(
        asset_ids=list(let_through.order_by("pk").values_list("pk", flat=True)),
        to=AssetStatus.FLAGGED,
        actor=actor,
        reason=f"a face is no longer covered by a likeness consent: {reason}",
    )
    return [str(finding.pk) for finding in findings]
