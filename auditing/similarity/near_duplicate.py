"""Near-duplicate detection: fingerprint an image, find verified copies of it in an index.

    fingerprint = fingerprint_image(Image.open(path))
    index = NearDuplicateIndex.load(registry_path)
    for match in index.query(fingerprint):
        match.key, match.inliers, match.transforms  # ("flip", "crop"), ...

A pure library: no models, no tasks. The auditor and the protected-works registry call it.
"""

from auditing.similarity.fingerprint import (
    FINGERPRINT_VERSION,
    MIN_FEATURE_SIDE,
    MIN_INLIERS,
    Fingerprint,
    Geometry,
    Verification,
    content_region,
    fingerprint_image,
    hamming,
    has_features,
    verify,
)
from auditing.similarity.index import Candidate, Match, NearDuplicateIndex
from auditing.similarity.index_files import INDEX_VERSION

__all__ = [
    "FINGERPRINT_VERSION",
    "INDEX_VERSION",
    "MIN_FEATURE_SIDE",
    "MIN_INLIERS",
    "Candidate",
    "Fingerprint",
    "Geometry",
    "Match",
    "NearDuplicateIndex",
    "Verification",
    "content_region",
    "fingerprint_image",
    "hamming",
    "has_features",
    "verify",
]
