"""Similarity: is this image a copy of one we know? Used by the near-duplicate auditor, the
protected-works registry and generation's output registry.

The public surface, by module (importing this package loads nothing heavy; each module loads
OpenCV, faiss or torch only when imported):
- `near_duplicate`: `fingerprint_image`, `Fingerprint`, `NearDuplicateIndex`, `Match`,
  `FINGERPRINT_VERSION` (ORB keypoints and perceptual hashes, verified by homography).
- `embeddings`: CLIP image embeddings from local weights, for the candidate search.
- `store`: `PersistedIndex`, an index kept on disk beside its database rows.

`fingerprint`, `index`, `index_files` and `vectors` are their internals.
"""
