"""Contributors, sources and evidence documents."""

from __future__ import annotations

import re
from datetime import date
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor, Role, require_role
from core.storage import blob_put_stream
from core.users import user_get
from provenance.models import Contributor, EvidenceDocument, Source

# An SPDX licence id or expression (`MIT`, `CC-BY-4.0`, `LicenseRef-acme-1`, `(MIT OR Apache-2.0)`).
_SPDX_EXPRESSION = re.compile(r"^[A-Za-z0-9(][A-Za-z0-9.+\-() ]{0,198}$")
_url = URLValidator(schemes=["http", "https", "s3", "ftp"])


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(f"{email!r} is not an email address", code="invalid_email") from None
    return email


@transaction.atomic
def contributor_add(*, email: str, name: str, username: str | None = None, actor: Actor = None) -> Contributor:
    """Register a contributor; adding the same one again with the same details is harmless."""
    require_role(actor, Role.OPERATOR, action="register contributors")
    email = normalise_email(email)
    name = name.strip()
    if not name:
        raise ApplicationError("a contributor needs a name", code="invalid_name")
    user = user_get(username=username) if username else None
    existing = Contributor.objects.filter(email=email).first()
    if existing is not None:
        if existing.name != name or (user is not None and existing.user_id != user.pk):
            raise ApplicationError(
                f"a contributor with email {email} already exists with other details", code="contributor_exists"
            )
        return existing
    if user is not None and Contributor.objects.filter(user=user).exists():
        raise ApplicationError(f"user {username!r} is already linked to a contributor", code="user_taken")
    contributor = Contributor.objects.create(email=email, name=name, user=user)
    audit_append(
        actor=actor,
        event_type=EventType.CONTRIBUTOR_ADDED,
        subject=contributor,
        details={"email": email, "name": name, "user": username},
    )
    return contributor


def contributor_get(*, email: str) -> Contributor:
    try:
        return Contributor.objects.get(email=email.strip().lower())
    except Contributor.DoesNotExist:
        raise ApplicationError(f"no contributor with email {email!r}", code="unknown_contributor") from None


def evidence_store(*, stream: BinaryIO, original_name: str) -> EvidenceDocument:
    """Store an evidence document content-addressed; the same bytes are one document."""
    sha256, size = blob_put_stream(stream)
    document, _ = EvidenceDocument.objects.get_or_create(
        sha256=sha256, defaults={"size": size, "original_name": original_name[:255]}
    )
    return document


def validate_licence(licence: str) -> str:
    licence = licence.strip()
    if not _SPDX_EXPRESSION.match(licence):
        raise ApplicationError(f"{licence!r} is not an SPDX licence id or expression", code="invalid_licence")
    return licence


def validate_source_url(url: str) -> str:
    url = url.strip()
    try:
        _url(url)
    except ValidationError:
        raise ApplicationError(f"{url!r} is not a URL", code="invalid_source_url") from None
    return url


def source_get_or_create(
    *,
    url: str = "",
    collection: str = "",
    licensor: str = "",
    licence_spdx: str = "",
    acquired_on: date | None = None,
) -> Source | None:
    if not (url or collection or licensor or licence_spdx):
        return None
    source, _ = Source.objects.get_or_create(
        url=validate_source_url(url) if url else "",
        collection=collection,
        licensor=licensor,
        licence_spdx=validate_licence(licence_spdx) if licence_spdx else "",
        acquired_on=acquired_on,
    )
    return source
