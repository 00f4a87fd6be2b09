"""Many delivery rows written in one statement: the dispatcher claims and records in batches,
and Django's bulk_update (a CASE per field per row) cost more than the sends themselves."""

from __future__ import annotations

from collections.abc import Sequence

from core.sql import rows_update

from .models import Delivery


def deliveries_write(rows: Sequence[Delivery], fields: list[str]) -> None:
    """UPDATE playbooks_delivery … FROM (the rows' values) in one statement."""
    rows_update(Delivery, rows, fields)
