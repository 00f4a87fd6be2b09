"""Set-based writes: many rows in one statement, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

# The SQL type of each kind of model field a bulk UPDATE writes.
SQL_TYPES = {
    "AutoField": "bigint",
    "BigAutoField": "bigint",
    "BigIntegerField": "bigint",
    "ForeignKey": "bigint",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "integer",
    "SmallIntegerField": "integer",
    "BooleanField": "boolean",
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "timestamptz",
    "DateField": "date",
    "JSONField": "jsonb",
}


def row_source(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """A table of `rows` to INSERT ... SELECT from or UPDATE ... FROM, with columns named.

    On PostgreSQL: one array per column through unnest(), so a batch is a handful of
    parameters however many rows it has — no statement of thousands of parameters for the
    driver to split and the server to parse. Elsewhere (SQLite): a VALUES list.
    """
    names = [name for name, _ in columns]
    if connection.vendor == "postgresql":
        arrays = [list(values) for values in zip(*rows, strict=True)]
        array_params = ", ".join(f"%b::{sql_type}[]" for _, sql_type in columns)  # %b: binary
        return f"(SELECT * FROM unnest({array_params}) AS u({', '.join(names)}))", arrays
    ops = connection.ops
    adapters = {"timestamptz": ops.adapt_datetimefield_value, "date": ops.adapt_datefield_value}
    adapt = [adapters.get(sql_type, lambda v: v) for _, sql_type in columns]
    params = [adapt[i](value) for row in rows for i, value in enumerate(row)]
    one_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    aliases = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(names))
    return f"(SELECT {aliases} FROM (VALUES {', '.join([one_row] * len(rows))}))", params


@contextmanager
def bulk_cursor() -> Iterator[Any]:
    """On PostgreSQL, psycopg's own cursor on Django's connection (same transaction): it binds
    parameters on the server, so the column arrays travel as binary instead of being quoted
    into the SQL text as Django's client-side cursor does."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            yield _BinaryCursor(cursor)
    else:
        with connection.cursor() as cursor:
            yield cursor


class _BinaryCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: list[Any]) -> None:
        # Django's wrapper turns psycopg's errors into django.db's (OperationalError and co).
        with connection.wrap_database_errors:
            self._cursor.execute(sql, params, binary=True)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()


def rows_update(model: type[models.Model], rows: Sequence[models.Model], fields: list[str]) -> None:
    """UPDATE <table> SET field = v.field, … FROM (the rows' values) AS v WHERE id = v.id: many
    rows, each with its own values, in one statement. Django's bulk_update writes a CASE per
    field per row, which costs more than the sends the outboxes record with it."""
    if not rows:
        return
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]  # a name or an attname ("message_id")
    types = [SQL_TYPES[f.get_internal_type()] for f in targets]
    columns = [("id", "bigint")] + [
        (f.column, "text" if t == "jsonb" else t) for f, t in zip(targets, types, strict=True)
    ]
    values = [
        (
            row.pk,
            *(
                json.dumps(getattr(row, f.attname), cls=DjangoJSONEncoder) if t == "jsonb" else getattr(row, f.attname)
                for f, t in zip(targets, types, strict=True)
            ),
        )
        for row in rows
    ]
    source, params = row_source(columns, values)
    postgres = connection.vendor == "postgresql"
    table = meta.db_table
    assignments = ", ".join(
        f"{f.column} = v.{f.column}{'::jsonb' if t == 'jsonb' and postgres else ''}"
        for f, t in zip(targets, types, strict=True)
    )
    with bulk_cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {assignments} FROM {source} AS v WHERE {table}.id = v.id", params)
