"""Near-duplicates: an asset that copies a protected work (cropped, flipped, resized,
recompressed…), or that copies another asset of its own dataset(s).

The asset's fingerprint is stored (AssetFingerprint) so later audits of its dataset can compare
against it without decoding its image again. Where an open_clip model is configured
(settings.CLEANROOM_EMBEDDINGS), the asset's image embedding is stored beside it and feeds the
candidate search too; every candidate still has to pass the geometric verification.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft
from auditing.models import AssetFingerprint, ProtectedWork
from auditing.similarity.embeddings import CandidateEmbeddings, candidate_embeddings, vector_from_bytes, vector_to_bytes

if TYPE_CHECKING:
    from auditing.similarity.near_duplicate import Fingerprint, Match, NearDuplicateIndex

from provenance.models import AssetStatus, DatasetMembership

# Inliers at which a match counts as certain; true copies show 100-250 (shared/FACTS.md).
_CERTAIN_INLIERS = 60
# Bumped with every change of what a query matches (fingerprint or verification), so assets
# audited before it are audited again.
_VERSION = "2"
_GONE = [AssetStatus.WITHDRAWN, AssetStatus.ERASED]


def _score(match: Match) -> float:
    if match.method == "hash":
        return 1.0
    return round(min(1.0, match.inliers / _CERTAIN_INLIERS), 3)


def _evidence(match: Match, query: Fingerprint, reference_size: tuple[int, int] | None) -> dict[str, Any]:
    """What the reviewer is shown. The homography maps the query's pixels (as a viewer sees the
    asset, in the frame `query_size` it was fingerprinted at) onto the reference's (the frame
    `reference_size`): the review page needs both frames to draw the matched region."""
    return {
        "inliers": match.inliers,
        "phash_distance": match.phash_distance,
        "dhash_distance": match.dhash_distance,
        "method": match.method,
        "transforms": list(match.transforms),
        "geometry": asdict(match.geometry) if match.geometry is not None else None,
        "embedding_similarity": round(match.similarity, 4) if match.similarity is not None else None,
        "candidate_sources": list(match.sources),
        "query_size": [query.width, query.height],
        "reference_size": list(reference_size) if reference_size is not None else None,
    }


@dataclass(frozen=True)
class _Query:
    """One asset's query: its fingerprint and, where a model is configured, its embedding."""

    fingerprint: Fingerprint
    embedding: np.ndarray | None
    embeddings: CandidateEmbeddings | None

    def against(self, index: NearDuplicateIndex) -> list[Match]:
        if self.embeddings is None or self.embedding is None:
            return index.query(self.fingerprint)
        return index.query(
            self.fingerprint,
            embedding=self.embedding,
            embedding_candidates=self.embeddings.candidates,
            min_similarity=self.embeddings.min_similarity,
        )


class NearDuplicateAuditor(Auditor):
    name = "near_duplicate"

    @property
    def version(self) -> str:
        # An embedding model changes what the candidate search can find: another model re-audits.
        # 2: fingerprint version 3 (half-size and framed-region keypoints) finds crops and
        # screenshots that version 1 missed.
        embeddings = candidate_embeddings()
        return _VERSION if embeddings is None else f"{_VERSION}+e{embeddings.model.digest[:12]}"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        # OpenCV, faiss and torch load here, in the worker: the web process reads auditor
        # versions (to decide what needs auditing) and must never load them.
        from auditing.similarity.near_duplicate import fingerprint_image, has_features

        fingerprint = fingerprint_image(subject.image)
        # An image too thin for keypoints (a 3000×3 strip) is matched on its hashes alone: its
        # embedding would be of a sliver blown up to the model's square.
        embeddings = candidate_embeddings() if has_features(fingerprint.width, fingerprint.height) else None
        embedding = embeddings.embed(subject.image) if embeddings is not None else None
        AssetFingerprint.objects.update_or_create(
            asset_id=subject.asset_id,
            defaults={
                "fingerprint": fingerprint.to_bytes(),
                "embedding": vector_to_bytes(embedding) if embedding is not None else None,
                "embedding_model": embeddings.version if embeddings is not None else "",
            },
        )
        query = _Query(fingerprint, embedding, embeddings)
        return [*self._protected(query), *self._within_dataset(subject.asset_id, query)]

    def _protected(self, query: _Query) -> list[FindingDraft]:
        from auditing.services.protected_index import protected_index

        matches = query.against(protected_index())
        works = {str(pk): work for pk, work in ProtectedWork.objects.in_bulk([m.key for m in matches]).items()}
        drafts = []
        for match in matches:
            work = works.get(match.key)  # a work deleted since the index was read is no finding
            if work is None:
                continue
            details = {"protected_work_id": str(work.pk), "owner": work.owner, "reference": work.reference}
            evidence = _evidence(match, query.fingerprint, (work.width, work.height))
            code = "near_duplicate.protected_work"
            drafts.append(FindingDraft(code=code, score=_score(match), details={**details, **evidence}))
        return drafts

    def _within_dataset(self, asset_id: str, query: _Query) -> list[FindingDraft]:
        from auditing.similarity.near_duplicate import Fingerprint, NearDuplicateIndex

        # A per-call index over the fingerprints of every other audited asset in the same
        # dataset(s): linear in the dataset's size (decode + build each call), fine for tens of
        # thousands of assets; beyond that a persistent per-dataset index (like the protected one)
        # is needed. Only assets already fingerprinted take part, so of two copies the one
        # audited second carries the finding.
        datasets = DatasetMembership.objects.filter(asset_id=asset_id).values("dataset_id")
        neighbours = DatasetMembership.objects.filter(dataset_id__in=datasets).values("asset_id")
        rows = (
            AssetFingerprint.objects.filter(asset_id__in=neighbours)
            .exclude(asset_id=asset_id)
            .exclude(asset__status__in=_GONE)
            .values_list("asset_id", "fingerprint", "embedding", "embedding_model")
        )
        model = query.embeddings.version if query.embeddings is not None else ""
        items, vectors, sizes = [], {}, {}
        for other_id, raw, vector, vector_model in rows.iterator(chunk_size=500):
            try:
                other = Fingerprint.from_bytes(bytes(raw))
            except ValueError:
                continue  # another fingerprint version: recomputed when that asset is re-audited
            items.append((str(other_id), other))
            sizes[str(other_id)] = (other.width, other.height)
            if model and vector is not None and vector_model == model:
                vectors[str(other_id)] = vector_from_bytes(vector)
        if not items:
            return []
        index = NearDuplicateIndex.rebuild(items, embeddings=vectors, embedding_model=model)
        return [
            FindingDraft(
                code="near_duplicate.within_dataset",
                score=_score(match),
                details={"asset_id": match.key, **_evidence(match, query.fingerprint, sizes.get(match.key))},
            )
            for match in query.against(index)
        ]
