"""The snapshot tree checked against an independent, recursive RFC 9162 §2.1 computation."""

from __future__ import annotations

import hashlib

import pytest

from provenance import merkle


def rfc9162_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc9162_mth(leaves[:k]) + rfc9162_mth(leaves[k:])).digest()


def rfc9162_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*rfc9162_path(m, leaves[:k]), rfc9162_mth(leaves[k:])]
    return [*rfc9162_path(m - k, leaves[k:]), rfc9162_mth(leaves[:k])]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 31, 100])
def test_root_matches_an_independent_rfc9162_computation(size):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    assert merkle.merkle_root([merkle.leaf_hash(x) for x in leaves]) == rfc9162_mth(leaves)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 11, 32, 33])
def test_every_inclusion_proof_matches_the_rfc_audit_path_and_folds_to_the_root(size):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    hashes = [merkle.leaf_hash(x) for x in leaves]
    root = rfc9162_mth(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(hashes, index)
        assert [node for _, node in proof] == rfc9162_path(index, leaves)
        assert merkle.fold_proof(hashes[index], proof) == root


def test_a_proof_for_another_leaf_does_not_fold_to_the_root():
    hashes = [merkle.leaf_hash(bytes([i])) for i in range(9)]
    proof = merkle.inclusion_proof(hashes, 3)
    assert merkle.fold_proof(hashes[4], proof) != merkle.merkle_root(hashes)


def test_the_documented_leaf_encoding():
    leaf = merkle.snapshot_leaf(asset_sha256="ab" * 32, consent_id="c0ffee", consent_digest="cd" * 32)
    assert leaf == ("ab" * 32 + ":c0ffee:" + "cd" * 32).encode("ascii")
    assert merkle.leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 9, 31, 100, 1025])
def test_packed_leaf_hashes_give_the_same_root(size):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    packed = b"".join(merkle.leaf_hash(x) for x in leaves)
    assert merkle.merkle_root_packed(packed) == rfc9162_mth(leaves)


def test_packed_leaf_hashes_must_be_whole():
    with pytest.raises(ValueError, match="32 bytes each"):
        merkle.merkle_root_packed(b"\x00" * 33)
