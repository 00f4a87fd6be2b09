"""Machine names (slugs, keys, timeline kinds, event names) turned into words a person reads.

Models that carry a machine name expose a label built here (`Step.label`, `TimelineEntry.
kind_label`, …); templates print the label, never the name. A mapping next to a model wins
where the derived words would read badly."""

from __future__ import annotations

import re

# Kept upper case when a name is turned into words ("welcome-sms" → "Welcome SMS").
ACRONYMS = frozenset({"sms", "nps", "csat", "qa", "csm", "api", "ai", "mrr", "url", "id", "p95"})
SEPARATORS = re.compile(r"[._\-\s]+")


def humanize(name: str) -> str:
    """“welcome-sms” → “Welcome SMS”, “health.bucket_changed” → “Health bucket changed”."""
    words = [w for w in SEPARATORS.split(name.strip()) if w]
    if not words:
        return ""
    words = [w.upper() if w.lower() in ACRONYMS else w.lower() for w in words]
    first = words[0]
    return " ".join([first if first.isupper() else first.capitalize(), *words[1:]])


def role_label(role: str) -> str:
    """A staff role's name (“CS lead”), for role queues and the signed-in header."""
    from core.roles import StaffRole  # roles.py reads the auth models; keep this module import-free

    return StaffRole(role).label if role in StaffRole.values else humanize(role)
