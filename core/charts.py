"""Tiny server-side charts (inline SVG: no script, nothing for the CSP to block), each with
its numbers written on it so colour is never needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Sparkline:
    points: str  # the polyline's "x,y x,y ..." in a width × height box
    width: int
    height: int
    first: date
    last: date
    low: float
    high: float


def sparkline(series: Sequence[tuple[date, float]], *, width: int = 240, height: int = 48) -> Sparkline | None:
    """Scores 0–100 over days, oldest first; None with fewer than two points."""
    if len(series) < 2:
        return None
    first, last = series[0][0], series[-1][0]
    span = max(1, (last - first).days)
    coords = []
    for day, score in series:
        x = (day - first).days * (width - 2) / span + 1
        y = height - 1 - score * (height - 2) / 100
        coords.append(f"{x:.1f},{y:.1f}")
    scores = [score for _, score in series]
    return Sparkline(" ".join(coords), width, height, first, last, min(scores), max(scores))


@dataclass(frozen=True)
class Column:
    label: str
    value: float | None  # None: nothing to draw (e.g. no alert with an SLA that week)
    text: str  # what is written above the column
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class Columns:
    """A column chart in a width × height box (plus room for the axis labels under it)."""

    columns: list[Column]
    top: float
    top_label: str
    width: int
    height: int
    column_width: int


def columns(
    points: Sequence[tuple[str, float | None]],
    *,
    top: float | None = None,
    unit: str = "",
    prefix: str = "",
    height: int = 100,
) -> Columns:
    """Columns from (label, value), oldest first. `top` is the y axis' maximum (the largest
    value when not given); `prefix` and `unit` are written around each value ("$", "%")."""
    step, column_width, left = 34, 22, 40
    largest = top if top is not None else max([v for _, v in points if v is not None] + [1])
    drawn = []
    for i, (label, value) in enumerate(points):
        bar = 0 if value is None else round(height * value / largest) if largest else 0
        text = "—" if value is None else f"{prefix}{value:,g}{unit}"
        drawn.append(Column(label, value, text, left + i * step, height - bar, bar))
    return Columns(drawn, largest, f"{prefix}{largest:,g}{unit}", left + step * len(points), height, column_width)
