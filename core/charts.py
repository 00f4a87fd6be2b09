"""Tiny server-side charts (inline SVG: no script, nothing for the CSP to block), each with
its numbers written on it so colour is never needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the chart's box
    label: str


@dataclass(frozen=True)
class Sparkline:
    """A score line with its axes: the y axis at 0 and at the bucket lines (60, 80, 100),
    dates under the x axis."""

    points: str  # the polyline's "x,y x,y ..." in a width × height box
    width: int
    height: int
    first: date
    last: date
    low: float
    high: float
    left: int  # where the plot starts (room for the y labels)
    bottom: float  # the x axis' y
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def sparkline(
    series: Sequence[tuple[date, float]], *, width: int = 300, height: int = 96, lines: Sequence[int] = (0, 60, 80, 100)
) -> Sparkline | None:
    """Scores 0–100 over days, oldest first; None with fewer than two points. `lines` are the
    scores the y axis marks (by default the buckets' edges)."""
    if len(series) < 2:
        return None
    left, top, bottom = 26, 6, height - 16
    first, last = series[0][0], series[-1][0]
    span = max(1, (last - first).days)

    def x_of(day: date) -> float:
        return left + (day - first).days * (width - left - 4) / span

    def y_of(score: float) -> float:
        return bottom - score * (bottom - top) / 100

    coords = " ".join(f"{x_of(day):.1f},{y_of(score):.1f}" for day, score in series)
    middle = first + (last - first) / 2
    x_ticks = [Tick(x_of(first), f"{first:%-d %b}"), Tick(x_of(last), f"{last:%-d %b}")]
    if span >= 14:
        x_ticks.insert(1, Tick(x_of(middle), f"{middle:%-d %b}"))
    scores = [score for _, score in series]
    return Sparkline(
        points=coords,
        width=width,
        height=height,
        first=first,
        last=last,
        low=min(scores),
        high=max(scores),
        left=left,
        bottom=bottom,
        y_ticks=[Tick(y_of(line), str(line)) for line in lines],
        x_ticks=x_ticks,
    )


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
