"""Set-based writes: many rows in one statement, on PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


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
