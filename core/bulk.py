"""Fast inserts of many plain rows (snapshot members: 100,000 in a few seconds).

The ORM's bulk_create builds a model instance per row and sends parameter arrays; for frozen
lists that are written once, PostgreSQL's COPY and SQLite's executemany are several times
faster. Values must already be database-ready (ids, strings, numbers).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models

_PLAIN = {"CharField", "TextField", "IntegerField", "PositiveIntegerField", "BigIntegerField", "SmallIntegerField"}


# COPY's text format, written in blocks: psycopg's write_row looks up a dumper per value, which
# was a third of snapshot_create's time at 1,000,000 members (docs/scale.md).
_COPY_LINES = 10_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, int | uuid.UUID):  # bool is an int: COPY reads "True"/"False" as booleans
        return str(value)
    raise TypeError(f"bulk_insert takes database-ready str, int, UUID or None values, not {type(value).__name__}")


def _uuid_hex(value: object) -> str:
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def _converter(field: models.Field) -> Callable[[object], object] | None:
    """How a value of this column reaches the database; None when it goes as it is."""
    kind = (field.target_field if isinstance(field, models.ForeignKey) else field).get_internal_type()
    if kind == "UUIDField" and not connection.features.has_native_uuid_field:
        return _uuid_hex  # SQLite keeps UUIDs as 32 hex characters
    if kind == "UUIDField" or kind in _PLAIN:
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def _column(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")  # a reverse relation, a generic key
    return field


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    model_fields = [_column(model, name) for name in fields]
    column_list = ", ".join(connection.ops.quote_name(field.column) for field in model_fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                lines: list[str] = []
                for row in rows:
                    lines.append("\t".join(_copy_text(value) for value in row))
                    if len(lines) == _COPY_LINES:
                        copy.write("\n".join(lines) + "\n")
                        lines = []
                if lines:
                    copy.write("\n".join(lines) + "\n")
            return
        converters = [(i, convert) for i, field in enumerate(model_fields) if (convert := _converter(field))]
        prepared = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                values[i] = convert(values[i])
            prepared.append(values)
        placeholders = ", ".join(["%s"] * len(model_fields))
        # Table and column names come from the model's own metadata, never from input.
        cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", prepared)  # noqa: S608
