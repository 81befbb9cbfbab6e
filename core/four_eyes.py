"""Four eyes: a subject (a snapshot, a base model) is approved by two distinct reviewers, neither
of whom created it. One rule for every approvable thing; each service records its decisions
in its own table and moves its own state machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.audit import actor_name
from core.exceptions import ApplicationError, PermissionDenied
from core.roles import Actor, Role, has_role

IN_REVIEW = "in_review"


@dataclass(frozen=True)
class FourEyes:
    """`noun` names the subject in refusals; `created` says how its creator made it ("built",
    "registered"); `required` distinct approvals approve it."""

    noun: str
    created: str
    required: int = 2

    def check_reviewer(self, subject: Any, *, reviewer: Actor, creator_id: Any) -> None:
        """Refuse a reviewer who may not decide on `subject` now: not a reviewer, the subject
        not in review, or the reviewer its creator."""
        if not has_role(reviewer, Role.REVIEWER):
            raise PermissionDenied(f"{actor_name(reviewer)} is not a reviewer")
        if subject.status != IN_REVIEW:
            raise ApplicationError(
                f"{self.noun} {subject.pk} is {subject.status}, not in review", code="not_in_review", status=409
            )
        if creator_id is not None and creator_id == reviewer.pk:
            raise PermissionDenied(f"the person who {self.created} a {self.noun} cannot review it")

    def approval_completes(self, subject: Any, *, reviewer: Actor, approvals: list[str]) -> bool:
        """Whether this reviewer's approval, added to `approvals` (usernames), approves the
        subject; a reviewer who already approved it is refused."""
        if actor_name(reviewer) in approvals:
            raise ApplicationError(
                f"{actor_name(reviewer)} has already approved {self.noun} {subject.pk}; a second reviewer must approve",
                code="already_approved_by_you",
                status=409,
            )
        return len(approvals) + 1 >= self.required

    @property
    def approved_reason(self) -> str:
        return f"approved by {self.required} reviewers" if self.required != 2 else "approved by two reviewers"

    @staticmethod
    def check_rejection_reason(reason: str) -> None:
        if not reason.strip():
            raise ApplicationError("a rejection needs a reason", code="reason_required")
