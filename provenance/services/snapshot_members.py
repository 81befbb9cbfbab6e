"""A snapshot's member rows, written and read back inside the database.

At 1,000,000 members, fetching the rows into Python and COPYing them back was most of
`snapshot_create`'s time (docs/scale.md). The rows are built by one `INSERT ... SELECT` instead,
numbered in leaf order by the database, and only the leaf hashes come back: on PostgreSQL
hashed by the server and packed 32 bytes per leaf, in blocks, so Python never touches a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connection, models

from provenance import merkle
from provenance.models import Asset, ConsentRecord, DatasetMembership, SnapshotMember

# Leaves are ordered by asset sha256 in code-point order, never by a locale's collation, so
# every database and every verifier agrees on the order. SQLite's default BINARY collation
# compares bytes, which is code-point order for the ASCII hex stored there.
_LEAF_ORDER = {"postgresql": 'COLLATE "C"', "sqlite": ""}
_SORT_MEMORY = "256MB"
# Held shared while members are written; the asset table's delete trigger (migration 0008)
# takes it exclusively, so a delete waits for the snapshot to commit and then sees its members.
MEMBERS_LOCK = 0x736E_6170  # "snap"
_LEAF_BLOCK = 100_000  # leaf hashes read per query on PostgreSQL: 3.2 MB, sorted in memory


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(_field(model, name).column)


def _prep(model: type[models.Model], name: str, value: object) -> object:
    return _field(model, name).get_db_prep_value(value, connection)


def leaf_order() -> str:
    if connection.vendor not in _LEAF_ORDER:
        raise NotImplementedError(f"snapshots know the code-point collation of postgresql and sqlite, not {connection.vendor}")
    return _LEAF_ORDER[connection.vendor]


def members_insert(*, snapshot_id: uuid.UUID, dataset_id: object, eligible: Iterable[str], blocked: Iterable[object]) -> int:
    """Write the snapshot's members: the dataset's assets whose status is `eligible` and whose
    consent is not `blocked`, numbered from 0 in leaf order. Returns how many were written."""
    eligible, blocked = list(eligible), list(blocked)
    m, a, c = "m", "a", "c"
    columns = ", ".join(
        _column(SnapshotMember, name) for name in ("snapshot", "index", "asset", "asset_sha256", "consent", "consent_digest")
    )
    sha256 = f"{a}.{_column(Asset, 'sha256')}"
    asset_consent = f"{a}.{_column(Asset, 'consent')}"
    blocked_clause = f" AND {asset_consent} NOT IN ({', '.join(['%s'] * len(blocked))})" if blocked else ""
    # Table and column names come from the models' own metadata; every value is a parameter.
    sql = (
        f"INSERT INTO {_table(SnapshotMember)} ({columns}) "  # noqa: S608
        f"SELECT %s, row_number() OVER (ORDER BY {sha256} {leaf_order()}) - 1, "
        f"{a}.{_column(Asset, 'id')}, {sha256}, {asset_consent}, {c}.{_column(ConsentRecord, 'digest')} "
        f"FROM {_table(DatasetMembership)} {m} "
        f"JOIN {_table(Asset)} {a} ON {a}.{_column(Asset, 'id')} = {m}.{_column(DatasetMembership, 'asset')} "
        f"JOIN {_table(ConsentRecord)} {c} ON {c}.{_column(ConsentRecord, 'id')} = {asset_consent} "
        f"WHERE {m}.{_column(DatasetMembership, 'dataset')} = %s "
        f"AND {a}.{_column(Asset, 'status')} IN ({', '.join(['%s'] * len(eligible))}){blocked_clause}"
    )
    params: list[Any] = [
        _prep(SnapshotMember, "snapshot", snapshot_id),
        _prep(DatasetMembership, "dataset", dataset_id),
        *eligible,
        *(_prep(Asset, "consent", consent_id) for consent_id in blocked),
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The leaf order is one sort of every member row (about 300 bytes each): in memory
            # for this transaction rather than merged through temporary files at 4 MB a run.
            cursor.execute(f"SET LOCAL work_mem = '{_SORT_MEMORY}'")
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [MEMBERS_LOCK])
        cursor.execute(sql, params)
        return cursor.rowcount


def members_root(*, snapshot_id: uuid.UUID, count: int) -> bytes:
    """The Merkle root over the snapshot's `count` members, in index order."""
    if connection.vendor != "postgresql":
        rows = (
            SnapshotMember.objects.filter(snapshot_id=snapshot_id)
            .order_by("index")
            .values_list("asset_sha256", "consent_id", "consent_digest")
        )
        leaves = (merkle.snapshot_leaf(asset_sha256=s, consent_id=str(cid), consent_digest=d) for s, cid, d in rows)
        return merkle.merkle_root_packed(b"".join(merkle.leaf_hash(leaf) for leaf in leaves))
    # The leaf of merkle.snapshot_leaf, hashed by the server: ASCII `sha256:consent id:digest`,
    # the uuid in its canonical text form (lower case, hyphens), as str(UUID) writes it.
    leaf = (
        f"convert_to({_column(SnapshotMember, 'asset_sha256')} || ':' || {_column(SnapshotMember, 'consent')}::text"
        f" || ':' || {_column(SnapshotMember, 'consent_digest')}, 'UTF8')"
    )
    index = _column(SnapshotMember, "index")
    sql = (
        f"SELECT string_agg(sha256('\\x00'::bytea || {leaf}), ''::bytea ORDER BY {index}) "  # noqa: S608
        f"FROM {_table(SnapshotMember)} WHERE {_column(SnapshotMember, 'snapshot')} = %s AND {index} >= %s AND {index} < %s"
    )
    blocks = []
    with connection.cursor() as cursor:
        for start in range(0, count, _LEAF_BLOCK):
            cursor.execute(sql, [snapshot_id, start, start + _LEAF_BLOCK])
            blocks.append(bytes(cursor.fetchone()[0]))
    packed = b"".join(blocks)
    if len(packed) != 32 * count:
        raise RuntimeError(f"snapshot {snapshot_id}: read {len(packed) // 32} leaves back, wrote {count}")
    return merkle.merkle_root_packed(packed)
