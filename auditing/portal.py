"""What the contributor portal may say about an image's open findings: one plain sentence per
kind of finding, never its evidence (no matched work, owner, score or position), so a
contributor learns what to fix without seeing anything of other people's."""

from __future__ import annotations

from auditing.models import Finding, FindingStatus

_WHAT = {
    "email_address": "an e-mail address",
    "phone_number": "a phone number",
    "person": "a person's name",
    "location": "a place or address",
    "url": "a web address",
    "credit_card": "a payment card number",
    "iban_code": "a bank account number",
    "ip_address": "a computer's network address",
}
_WHERE = {
    "pixels": "written in the picture",
    "text": "in the picture's caption, file name or hidden details (metadata)",
}


def _sentence(code: str) -> str:
    parts = code.split(".")
    family = parts[0]
    if family == "pii":
        kind = parts[1] if len(parts) > 1 else ""
        if kind == "face":
            # Said only while the face blocks: one covered by a likeness consent is informational, not open.
            return (
                "We found a face that can be recognised. It can be used only with a consent in which each "
                "person shown agrees, by name, to the use of their likeness, and that consent is still valid."
            )
        if kind == "location":
            return "The picture's hidden details (metadata) say where it was taken (GPS coordinates)."
        what = _WHAT.get(parts[2] if len(parts) > 2 else "", "personal information")
        return f"We found what looks like {what} {_WHERE.get(kind, 'in the picture')}."
    if code == "near_duplicate.protected_work":
        return "It looks very similar to a protected work registered by its owner."
    if code == "near_duplicate.within_dataset":
        return "It looks almost the same as another image already in the dataset."
    if family == "synthetic":
        return "Its hidden details (metadata) say it was made or changed by AI."
    if family == "nsfw":
        return "It may show nudity or sexual content."
    return "One of our checks found something a reviewer must look at."


def findings_in_plain_words(asset_ids: list[str]) -> dict[str, list[str]]:
    """For each asset id with open findings, what was found in plain words (each sentence once)."""
    said: dict[str, list[str]] = {}
    open_findings = Finding.objects.filter(asset_id__in=asset_ids, status=FindingStatus.OPEN).order_by("created_at", "id")
    for asset_id, code in open_findings.values_list("asset_id", "code"):
        sentences = said.setdefault(str(asset_id), [])
        sentence = _sentence(code)
        if sentence not in sentences:
            sentences.append(sentence)
    return said
