"""Many delivery rows written in one statement: the dispatcher claims and records in batches,
and Django's bulk_update (a CASE per field per row) cost more than the sends themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from health.sql import bulk_cursor, row_source

from .models import Delivery

COLUMN_TYPES = {
    "status": "text",
    "reason": "text",
    "due_at": "timestamptz",
    "claimed_at": "timestamptz",
    "sent_at": "timestamptz",
    "delivered_at": "timestamptz",
    "updated_at": "timestamptz",
    "attempts": "integer",
    "recipient": "text",
    "provider_id": "text",
    "rendered_subject": "text",
    "rendered_body": "text",
    "trace": "jsonb",
}


def deliveries_write(rows: Sequence[Delivery], fields: list[str]) -> None:
    """UPDATE playbooks_delivery … FROM (the rows' values) in one statement."""
    if not rows:
        return
    json_fields = {f for f in fields if COLUMN_TYPES[f] == "jsonb"}
    columns = [("id", "bigint")] + [(f, "text" if f in json_fields else COLUMN_TYPES[f]) for f in fields]
    values = [
        (
            d.id,
            *(json.dumps(getattr(d, f), cls=DjangoJSONEncoder) if f in json_fields else getattr(d, f) for f in fields),
        )
        for d in rows
    ]
    source, params = row_source(columns, values)
    postgres = connection.vendor == "postgresql"
    assignments = ", ".join(f"{f} = v.{f}{'::jsonb' if f in json_fields and postgres else ''}" for f in fields)
    sql = f"UPDATE playbooks_delivery SET {assignments} FROM {source} AS v WHERE playbooks_delivery.id = v.id"
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)
