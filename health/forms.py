"""The cockpit form for a new health-model version: one weight and one threshold list per
signal, the bucket boundaries, a name and notes. Validation of the whole model stays in
services.validate_components; this form only parses what a person typed."""

from __future__ import annotations

import math
from typing import Any

from django import forms

from .components import SIGNALS
from .models import HealthModel


def format_points(points: list[list[float]]) -> str:
    return ", ".join(f"{value:g}→{score:g}" for value, score in points)


def parse_points(text: str) -> list[list[float]]:
    points = []
    for chunk in [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]:
        value, sep, score = chunk.replace("->", "→").replace(":", "→").partition("→")
        if not sep:
            raise forms.ValidationError(f"“{chunk}” needs an arrow: signal→score, e.g. 3→60.")
        try:
            point = [float(value), float(score)]
            if not all(math.isfinite(v) for v in point):
                raise ValueError
            points.append(point)
        except ValueError:
            raise forms.ValidationError(f"“{chunk}” is not “signal→score”; write e.g. “0→0, 3→60, 5→100”.") from None
    return points


class HealthModelForm(forms.Form):
    name = forms.CharField(max_length=100)
    healthy_min = forms.IntegerField(min_value=1, max_value=100, label="Healthy from")
    at_risk_min = forms.IntegerField(min_value=1, max_value=99, label="At risk from")
    warmup_days = forms.IntegerField(
        min_value=0,
        max_value=90,
        label="Warm-up (days)",
        help_text="Younger tenants are “new”: scored for information, no rule or playbook acts on it.",
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="What changed and why, for whoever reviews it.",
    )

    def __init__(self, *args: Any, base: HealthModel, **kwargs: Any) -> None:
        initial = {"name": f"{base.name} (edited)", "healthy_min": base.healthy_min, "at_risk_min": base.at_risk_min}
        initial["warmup_days"] = base.warmup_days
        configured = {c["key"]: c for c in base.components}
        for key in SIGNALS:
            component = configured.get(key)
            initial[f"{key}_weight"] = component["weight"] if component else 0
            suggested = [list(pair) for pair in SIGNALS[key].suggested_points]
            initial[f"{key}_points"] = format_points(component["points"] if component else suggested)
        super().__init__(*args, initial=initial, **kwargs)
        for key, signal in SIGNALS.items():
            self.fields[f"{key}_weight"] = forms.IntegerField(
                min_value=0, max_value=100, label=f"{signal.label} weight"
            )
            self.fields[f"{key}_points"] = forms.CharField(
                required=False,
                label=f"{signal.label} thresholds",
                help_text="signal→score pairs; "
                + ("higher is better" if signal.higher_is_better else "lower is better"),
            )

    def model_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("name", "healthy_min", "at_risk_min", "warmup_days", "notes")]

    def signal_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [(s.label, self[f"{k}_weight"], self[f"{k}_points"]) for k, s in SIGNALS.items()]

    def components(self) -> list[dict[str, Any]]:
        """The components with a weight above 0; a signal left at 0 is not part of the model."""
        components = []
        for key in SIGNALS:
            weight = self.cleaned_data[f"{key}_weight"]
            if not weight:
                continue
            try:
                points = parse_points(self.cleaned_data[f"{key}_points"])
            except forms.ValidationError as error:
                self.add_error(f"{key}_points", error)
                continue
            components.append({"key": key, "weight": weight, "points": points})
        return components
