"""The consent file (`ingest --consent FILE`, `POST /api/v1/consents/`): parsed strictly.

Unknown keys are refused, so a typo can never silently drop a restriction. Times are ISO 8601;
a date alone means midnight UTC and a time without an offset is read as UTC.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from core.exceptions import ApplicationError
from core.json_bounds import JsonTooDeep, json_loads
from provenance.models import ConsentScope

REQUIRED_KEYS = {"contributor", "scopes", "terms_version", "granted_at", "expires_at", "evidence"}
OPTIONAL_KEYS = {"depicted_persons"}
PERSON_KEYS = {"name", "scopes", "evidence"}
MAX_DOCUMENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DepictedPersonDoc:
    name: str
    scopes: tuple[str, ...]
    evidence: str


@dataclass(frozen=True)
class ConsentDocument:
    contributor: str
    scopes: tuple[str, ...]
    terms_version: str
    granted_at: datetime
    expires_at: datetime | None
    evidence: str
    depicted_persons: tuple[DepictedPersonDoc, ...]

    def canonical(self, *, evidence_sha256: str, person_evidence_sha256: list[str]) -> dict[str, Any]:
        """The record's content as stored and hashed: evidence by digest, lists sorted."""
        persons = [
            {"name": person.name, "scopes": sorted(person.scopes), "evidence_sha256": digest}
            for person, digest in zip(self.depicted_persons, person_evidence_sha256, strict=True)
        ]
        return {
            "contributor": self.contributor,
            "scopes": sorted(self.scopes),
            "terms_version": self.terms_version,
            "granted_at": _iso(self.granted_at),
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
            "evidence_sha256": evidence_sha256,
            "depicted_persons": sorted(persons, key=lambda p: (p["name"], p["evidence_sha256"])),
        }


def consent_digest(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(f"consent file: {message}", code="invalid_consent")


def parse_consent_bytes(raw: bytes) -> ConsentDocument:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise _refuse(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        data = json_loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(f"not valid JSON ({exc})") from None
    except JsonTooDeep as exc:
        raise _refuse(exc.message) from None
    return parse_consent(data)


def parse_consent(data: Any) -> ConsentDocument:
    if not isinstance(data, dict):
        raise _refuse("must be a JSON object")
    unknown = set(data) - REQUIRED_KEYS - OPTIONAL_KEYS
    if unknown:
        raise _refuse(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(REQUIRED_KEYS | OPTIONAL_KEYS))}")
    missing = REQUIRED_KEYS - set(data)
    if missing:
        raise _refuse(f"missing key(s) {', '.join(sorted(missing))}")
    contributor = _text(data, "contributor").lower()
    scopes = _scopes(data["scopes"], "scopes")
    granted_at = _moment(data["granted_at"], "granted_at")
    expires_at = None if data["expires_at"] is None else _moment(data["expires_at"], "expires_at")
    if expires_at is not None and expires_at <= granted_at:
        raise _refuse("expires_at must be after granted_at")
    persons = _persons(data.get("depicted_persons", []))
    if ConsentScope.LIKENESS in scopes and not persons:
        raise _refuse("the likeness scope needs depicted_persons naming each person shown")
    for person in persons:
        if ConsentScope.LIKENESS not in person.scopes:
            raise _refuse(f"depicted person {person.name!r} must grant the likeness scope")
    return ConsentDocument(
        contributor=contributor,
        scopes=scopes,
        terms_version=_text(data, "terms_version"),
        granted_at=granted_at,
        expires_at=expires_at,
        evidence=_text(data, "evidence"),
        depicted_persons=persons,
    )


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _refuse(f"{key} must be a non-empty string")
    return value.strip()


def _scopes(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _refuse(f"{key} must be a non-empty list of scopes ({', '.join(ConsentScope.values)})")
    unknown = [s for s in value if s not in ConsentScope.values]
    if unknown:
        raise _refuse(f"{key} has unknown scope(s) {unknown}; allowed: {', '.join(ConsentScope.values)}")
    if len(set(value)) != len(value):
        raise _refuse(f"{key} lists a scope twice")
    return tuple(sorted(value))


def _moment(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise _refuse(f"{key} must be an ISO 8601 date or time")
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _refuse(f"{key} {value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _persons(value: Any) -> tuple[DepictedPersonDoc, ...]:
    if not isinstance(value, list):
        raise _refuse("depicted_persons must be a list")
    persons = []
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise _refuse(f"depicted_persons[{position}] must be an object")
        unknown = set(item) - PERSON_KEYS
        if unknown:
            raise _refuse(f"depicted_persons[{position}] has unknown key(s) {', '.join(sorted(unknown))}")
        missing = PERSON_KEYS - set(item)
        if missing:
            raise _refuse(f"depicted_persons[{position}] is missing {', '.join(sorted(missing))}")
        persons.append(
            DepictedPersonDoc(
                name=_text(item, "name"),
                scopes=_scopes(item["scopes"], f"depicted_persons[{position}].scopes"),
                evidence=_text(item, "evidence"),
            )
        )
    return tuple(persons)
