"""Request shapes (validated here, decided by services) and response shapes (for the schema).

Where a service returns the CLI's JSON document, the API answers with that document itself, so
the two cannot drift apart; the `*Result` serializers below only describe it for the schema.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provenance.consent_document import MAX_DOCUMENT_BYTES, ConsentDocument, parse_consent_bytes
from provenance.ingest.refusals import RefusalReason
from provenance.models import (
    Asset,
    AssetStatus,
    ConsentRecord,
    ConsentScope,
    Contributor,
    Dataset,
    Decision,
    Snapshot,
    SnapshotStatus,
)
from provenance.selectors import ConsentState, consent_state, snapshot_approvals
from provenance.services.consent import evidence_opener_for_uploads
from provenance.services.pki import SigningIdentity, fingerprint
from provenance.services.snapshots import SnapshotProof

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# -- contributors ---------------------------------------------------------------------------
class ContributorSerializer(serializers.ModelSerializer):
    """A contributor, for the API and `contributor add --json` alike (`contributor_id` is the
    command-line contract's name for `id`)."""

    contributor_id = serializers.UUIDField(source="pk", read_only=True, help_text="the same as id")
    username = serializers.CharField(source="user.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Contributor
        fields = ["id", "contributor_id", "email", "name", "username", "created_at"]
        read_only_fields = fields


class ContributorCreateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=200)
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


# -- datasets -------------------------------------------------------------------------------
class DatasetSerializer(serializers.ModelSerializer):
    """A dataset, for the API and `dataset create --json` alike (`dataset_id` is the command-line
    contract's name for `id`)."""

    dataset_id = serializers.UUIDField(source="pk", read_only=True, help_text="the same as id")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ConsentScope.choices), read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "dataset_id", "slug", "name", "scopes", "created_by", "created_at"]
        read_only_fields = fields


class DatasetCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ConsentScope.choices), allow_empty=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DatasetEnrolSerializer(serializers.Serializer):
    contributor = serializers.CharField(max_length=254, help_text="the contributor's email")
    reason = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class EnrolmentChangeSerializer(serializers.Serializer):
    """The answer of an enrol or unenrol (`EnrolmentChange`), for the API and `dataset enrol|unenrol
    --json` alike: `enrolled` is the contributor's standing afterwards, `changed` whether this
    request changed it."""

    dataset_id = serializers.UUIDField(source="dataset.pk")
    slug = serializers.CharField(source="dataset.slug")
    contributor_id = serializers.UUIDField(source="contributor.pk")
    contributor = serializers.EmailField(source="contributor.email")
    enrolled = serializers.BooleanField()
    changed = serializers.BooleanField()


# -- consent --------------------------------------------------------------------------------
class DepictedPersonSerializer(serializers.Serializer):
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    evidence_sha256 = serializers.CharField(source="evidence_id")


class ConsentEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ConsentSerializer(serializers.ModelSerializer):
    """A consent as it stands now: the grant folded with its renewals, expiries and revocation."""

    contributor = serializers.EmailField(source="contributor.email", read_only=True)
    state = serializers.SerializerMethodField(help_text="active, expired, revoked or not_yet_valid")
    expires_at = serializers.SerializerMethodField(help_text="the expiry in force (after renewals)")
    revoked_at = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ConsentScope.choices), read_only=True)
    evidence_sha256 = serializers.CharField(source="evidence_id", read_only=True)
    depicted_persons = DepictedPersonSerializer(many=True, read_only=True)
    events = ConsentEventSerializer(many=True, read_only=True)

    class Meta:
        model = ConsentRecord
        fields = [
            "id", "contributor", "state", "scopes", "terms_version", "granted_at", "expires_at", "revoked_at",
            "evidence_sha256", "digest", "depicted_persons", "events", "recorded_at", "recorded_by",
        ]  # fmt: skip
        read_only_fields = fields

    def _state(self, consent: ConsentRecord) -> ConsentState:
        # One fold per consent, shared by the three fields that read it.
        cache: dict[Any, ConsentState] = self.__dict__.setdefault("_states", {})
        if consent.pk not in cache:
            cache[consent.pk] = consent_state(consent)
        return cache[consent.pk]

    def get_state(self, consent: ConsentRecord) -> str:
        return self._state(consent).status

    def get_expires_at(self, consent: ConsentRecord) -> datetime | None:
        return self._state(consent).expires_at

    def get_revoked_at(self, consent: ConsentRecord) -> datetime | None:
        return self._state(consent).revoked_at


class ConsentCreateSerializer(serializers.Serializer):
    contributor = serializers.EmailField(help_text="the contributor's email; must match the document's")
    document = serializers.FileField(help_text="the consent JSON file (same schema as the CLI's --consent FILE)")
    evidence = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="the files the document's `evidence` paths name, matched by file name",
    )

    def validate_document(self, upload: UploadedFile) -> ConsentDocument:
        upload.seek(0)
        return parse_consent_bytes(upload.read(MAX_DOCUMENT_BYTES + 1))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["open_evidence"] = evidence_opener_for_uploads(attrs["evidence"])
        return attrs


class ConsentRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10_000)


class ConsentRevokeResultSerializer(serializers.Serializer):
    """The answer of a revocation (`ConsentRevocation`), for the API and `consent revoke --json` alike."""

    consent_id = serializers.UUIDField(source="consent.pk")
    withdrawn_assets = serializers.ListField(child=serializers.UUIDField())
    tainted_snapshots = serializers.ListField(child=serializers.UUIDField())


class ConsentRenewSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField(allow_null=True, help_text="the new expiry, or null for none")
    reason = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


# -- ingest ---------------------------------------------------------------------------------
class IngestSerializer(serializers.Serializer):
    dataset = serializers.CharField(max_length=100, help_text="the dataset's slug")
    consent_id = serializers.UUIDField()
    # Empty files are let through so that they come back as `refused` rows, like any bad file.
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), allow_empty=False)
    licence = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    source_url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class IngestAcceptedSerializer(serializers.Serializer):
    path = serializers.CharField()
    asset_id = serializers.UUIDField()
    sha256 = serializers.CharField()


class IngestRefusedSerializer(serializers.Serializer):
    path = serializers.CharField()
    reason = serializers.ChoiceField(choices=[reason.value for reason in RefusalReason])
    detail = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    """What became of each file of an ingest batch, in the order the files came: the API's
    answer and the `ingest` command's JSON alike."""

    consent_id = serializers.UUIDField()
    batch_id = serializers.UUIDField(source="pk")
    accepted = IngestAcceptedSerializer(source="accepted_items", many=True)
    refused = IngestRefusedSerializer(source="refused_items", many=True)


# -- assets ---------------------------------------------------------------------------------
class AssetFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AssetStatus.choices, required=False, help_text="only assets in this status")


class AssetSerializer(serializers.ModelSerializer):
    """An asset, for the API and `asset show/review --json` alike (`asset_id` and `consent_id`
    are the command-line contract's names for `id` and `consent`)."""

    asset_id = serializers.UUIDField(source="pk", read_only=True, help_text="the same as id")
    contributor = serializers.EmailField(source="contributor.email", read_only=True)
    consent = serializers.UUIDField(source="consent_id", read_only=True)
    consent_id = serializers.UUIDField(read_only=True, help_text="the same as consent")

    class Meta:
        model = Asset
        fields = [
            "id", "asset_id", "sha256", "status", "status_changed_at", "original_name", "caption", "format",
            "mime_type", "width", "height", "size", "contributor", "consent", "consent_id", "metadata", "c2pa",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class AssetReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(max_length=10_000)


# -- snapshots ------------------------------------------------------------------------------
class SnapshotFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SnapshotStatus.choices, required=False, help_text="only snapshots in this status")


class SnapshotSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ConsentScope.choices), read_only=True)
    approvals = serializers.SerializerMethodField(help_text="usernames of the reviewers who approved, in order")

    class Meta:
        model = Snapshot
        fields = [
            "id", "dataset", "status", "status_reason", "status_changed_at", "scopes", "merkle_root",
            "asset_count", "leaf_format", "created_by", "created_at", "approvals",
        ]  # fmt: skip
        read_only_fields = fields

    def get_approvals(self, snapshot: Snapshot) -> list[str]:
        return snapshot_approvals(snapshot)


class SnapshotCreateSerializer(serializers.Serializer):
    dataset = serializers.CharField(max_length=100, help_text="the dataset's slug")


class SnapshotExclusionSerializer(serializers.Serializer):
    asset_id = serializers.UUIDField()
    reason = serializers.CharField()
    detail = serializers.CharField()


# The answers of `snapshot create`, `approve` and `reject`: one shape for the API and the CLI's
# `--json` alike (the commands render the service's Snapshot with these), so they cannot drift.
class SnapshotCreateResultSerializer(serializers.Serializer):
    snapshot_id = serializers.UUIDField(source="pk")
    merkle_root = serializers.CharField()
    asset_count = serializers.IntegerField()
    excluded = serializers.SerializerMethodField()
    status = serializers.CharField()

    @extend_schema_field(SnapshotExclusionSerializer(many=True))
    def get_excluded(self, snapshot: Snapshot) -> list[dict[str, Any]]:
        return SnapshotExclusionSerializer(snapshot.exclusions.order_by("id"), many=True).data


class SnapshotReviewResultSerializer(serializers.Serializer):
    snapshot_id = serializers.UUIDField(source="pk")
    status = serializers.CharField()
    approvals = serializers.SerializerMethodField(help_text="usernames of the reviewers who approved, in order")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_approvals(self, snapshot: Snapshot) -> list[str]:
        return snapshot_approvals(snapshot)


class SnapshotRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10_000)


class SnapshotProveSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, allow_empty_file=True, help_text="the image; hashed here, not stored")
    sha256 = serializers.CharField(required=False, help_text="or the image's sha256, hex")

    def validate_sha256(self, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256.match(value):
            raise serializers.ValidationError("not a sha256 hex digest (64 hex characters)")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        upload: UploadedFile | None = attrs.get("file")
        if (upload is None) == ("sha256" not in attrs):
            raise serializers.ValidationError("send exactly one of `file` (multipart) or `sha256`")
        if upload is not None:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            attrs["sha256"] = digest.hexdigest()
        return attrs


class ProofStepSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["left", "right"], help_text="where the sibling sits")
    hash = serializers.CharField()


class SnapshotProofSerializer(serializers.Serializer):
    """The answer of `snapshot prove`, for the API and the CLI's `--json` alike."""

    snapshot_id = serializers.UUIDField(source="snapshot.pk")
    included = serializers.BooleanField()
    sha256 = serializers.CharField()
    merkle_root = serializers.CharField(source="snapshot.merkle_root")
    tree_size = serializers.IntegerField()
    leaf = serializers.SerializerMethodField(help_text="sha256:consent_id:consent_digest, the bytes the leaf hashes")
    leaf_hash = serializers.SerializerMethodField(help_text="hex")
    leaf_index = serializers.IntegerField(allow_null=True)
    proof = serializers.SerializerMethodField(help_text="the siblings from the leaf up, each with the side it sits on")

    def get_leaf(self, proof: SnapshotProof) -> str | None:
        return proof.leaf.decode("ascii") if proof.leaf is not None else None

    def get_leaf_hash(self, proof: SnapshotProof) -> str | None:
        return proof.leaf_hash.hex() if proof.leaf_hash is not None else None

    @extend_schema_field(ProofStepSerializer(many=True))
    def get_proof(self, proof: SnapshotProof) -> list[dict]:
        return [{"side": side, "hash": sibling.hex()} for side, sibling in proof.path]


# -- the signing identity -------------------------------------------------------------------
class SigningIdentitySerializer(serializers.Serializer):
    """The answer of `pki init` and `pki show` (paths, fingerprints, validity; never a key)."""

    anchor_fingerprint = serializers.CharField(source="root_fingerprint", allow_null=True)
    certificate_path = serializers.CharField(source="paths.signer_chain")
    anchors_path = serializers.CharField(source="paths.anchors")
    key_path = serializers.CharField(source="paths.signer_key")
    signer_subject = serializers.SerializerMethodField()
    signer_fingerprint = serializers.SerializerMethodField()
    not_valid_after = serializers.SerializerMethodField()
    anchors = serializers.SerializerMethodField(help_text="SHA-256 fingerprints of the trust anchors bundle")
    also_trusted = serializers.SerializerMethodField(help_text="pki init: the further anchors it added")
    replaced = serializers.CharField(allow_null=True, help_text="pki init: the root fingerprint it replaced")

    def get_signer_subject(self, identity: SigningIdentity) -> str:
        return identity.signer.subject.rfc4514_string()

    def get_signer_fingerprint(self, identity: SigningIdentity) -> str:
        return fingerprint(identity.signer)

    def get_not_valid_after(self, identity: SigningIdentity) -> str:
        return identity.signer.not_valid_after_utc.isoformat()

    def get_anchors(self, identity: SigningIdentity) -> list[str]:
        return [fingerprint(anchor) for anchor in identity.anchors]

    def get_also_trusted(self, identity: SigningIdentity) -> list[str]:
        return [fingerprint(anchor) for anchor in identity.also_trusted]


# -- audit log ------------------------------------------------------------------------------
