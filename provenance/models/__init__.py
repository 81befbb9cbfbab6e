from provenance.models.assets import ASSET_TRANSITIONS, Asset, AssetQuerySet, AssetStatus
from provenance.models.consent import ConsentEvent, ConsentEventKind, ConsentRecord, ConsentScope, DepictedPerson
from provenance.models.contributors import Contributor, EvidenceDocument, Source
from provenance.models.datasets import Dataset, DatasetEnrolment, DatasetMembership
from provenance.models.ingest import IngestBatch, IngestItem
from provenance.models.portal_upload import UploadedFile, UploadSession
from provenance.models.reviews import Decision, ReviewDecision
from provenance.models.snapshots import (
    SNAPSHOT_TRANSITIONS,
    Snapshot,
    SnapshotExclusion,
    SnapshotMember,
    SnapshotStatus,
)

__all__ = [
    "ASSET_TRANSITIONS",
    "SNAPSHOT_TRANSITIONS",
    "Asset",
    "AssetQuerySet",
    "AssetStatus",
    "ConsentEvent",
    "ConsentEventKind",
    "ConsentRecord",
    "ConsentScope",
    "Contributor",
    "Dataset",
    "DatasetEnrolment",
    "DatasetMembership",
    "Decision",
    "DepictedPerson",
    "EvidenceDocument",
    "IngestBatch",
    "IngestItem",
    "ReviewDecision",
    "Snapshot",
    "SnapshotExclusion",
    "SnapshotMember",
    "SnapshotStatus",
    "Source",
    "UploadSession",
    "UploadedFile",
]
