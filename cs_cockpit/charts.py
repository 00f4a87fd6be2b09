"""Tiny server-side charts (inline SVG: no script, nothing for the CSP to block)."""

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
