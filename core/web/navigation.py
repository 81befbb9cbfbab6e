"""The navigation rule: which links a user's roles show, in one place.

Each link names the roles that may open its page. The page's view guards itself with the same
roles (`core.web.permissions.role_required(*PAGE_ROLES["/review/"])`), so the navigation and
the page cannot disagree. Labels and paths are the web contract's (DESIGN.md, "Web contract"):
browser scripts and screen readers rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.roles import Actor, Role, user_roles


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    # Who sees the link and may open the page; None: everyone, anonymous visitors too.
    roles: frozenset[str] | None
    # One sentence, in plain words, on the home page: what a person does there.
    description: str


NAV_LINKS: tuple[NavLink, ...] = (
    NavLink(
        "Review queue",
        "/review/",
        frozenset({Role.REVIEWER}),
        "Images the automatic checks have flagged: look at the evidence and decide on each one.",
    ),
    NavLink(
        "Snapshots",
        "/snapshots/",
        frozenset({Role.REVIEWER, Role.ML_ENGINEER, Role.COMPLIANCE}),
        "Fixed lists of images that may be used to train a model; two reviewers approve each one.",
    ),
    NavLink(
        "Reports",
        "/reports/",
        frozenset({Role.COMPLIANCE}),
        "Download the records of an approved snapshot: spreadsheet, PDF and the signed compliance pack.",
    ),
    NavLink(
        "Audit log",
        "/auditlog/",
        frozenset({Role.COMPLIANCE, Role.OPERATOR}),
        "Every decision, who made it and when, in a record that shows any later change.",
    ),
    NavLink(
        "My images",
        "/portal/",
        frozenset({Role.CONTRIBUTOR}),
        "The images you have supplied, and where each one stands.",
    ),
    NavLink(
        "Upload",
        "/portal/upload/",
        frozenset({Role.CONTRIBUTOR}),
        "Add images under a consent you have given.",
    ),
    NavLink(
        "Verify",
        "/verify/",
        None,
        "Check whether an image was made by a model trained here, and on which approved images.",
    ),
)

# The roles each page of the navigation needs, by its path: what its view passes to role_required.
PAGE_ROLES: dict[str, tuple[str, ...]] = {link.path: tuple(sorted(link.roles)) for link in NAV_LINKS if link.roles is not None}


def nav_links(user: Actor) -> list[NavLink]:
    """The links `user` may follow, in the navigation's order."""
    roles = user_roles(user)
    return [link for link in NAV_LINKS if link.roles is None or link.roles & roles]


def current_path(links: list[NavLink], request_path: str) -> str | None:
    """The path of the link whose section `request_path` is in (the longest that prefixes it), so
    the navigation can mark it as the current page; None outside every section."""
    inside = [link.path for link in links if request_path.startswith(link.path)]
    return max(inside, key=len, default=None)
