"""Playbook files: YAML, or Markdown in the seeds' own format, read into one canonical
definition (a plain dict) that is validated whole — a file with an error is rejected with
its line and the reason, and nothing of it is stored. `to_yaml` writes a definition back.

Markdown (seed 003): YAML front matter; `# Title`; `## Day N: Title` (or `Day N-M`)
sections whose `- [ ]` items become CSM tasks owned by the section's `**Owner:**`, with
indented sub-items as the task's notes; `[[wiki links]]` are reduced to their text.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import json
import re
from typing import Any

import yaml
from django.utils.text import slugify

from core.roles import StaffRole
from messaging.webhook import webhook_hosts

from .conditions import ConditionError, holds_for_value, normalise_all
from .facts import FACTS
from .models import Channel, Trigger
from .templating import TemplateError, check

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DEFAULT_WINDOW = {"start": "09:00", "end": "18:00"}
DEFAULT_TASK_DUE_HOURS = 48
MAX_DAY = 365
SMS_MAX_CHARS = 640
TOP_LEVEL_KEYS = {
    "slug",
    "name",
    "description",
    "trigger",
    "audience",
    "stop_when",
    "reenrol",
    "send_window",
    "steps",
}
STEP_KEYS = {
    "key",
    "section",
    "day",
    "hours",
    "channel",
    "subject",
    "title",
    "body",
    "when",
    "conditions",
    "owner_role",
    "owner",
    "transactional",
    "transactional_reason",
    "variant",
    "webhook_url",
    "due_in_hours",
}


class DefinitionError(ValueError):
    """Why a playbook file or edit was refused: the line (when known) and the reason."""

    def __init__(self, message: str, *, line: int | None = None, source: str = "") -> None:
        self.line, self.source, self.reason = line, source, message
        where = f"{source}, line {line}" if source and line else (f"line {line}" if line else source)
        super().__init__(f"{where}: {message}" if where else message)


# --- YAML with line numbers -------------------------------------------------------------------


VALUE = "__value__"  # lines[(*path, VALUE)]: where a scalar's text starts (block scalars: next line)


def _from_node(node: yaml.Node, path: tuple, lines: dict[tuple, int], seen: set[int] | None = None) -> Any:
    seen = set() if seen is None else seen
    if id(node) in seen:
        # An alias (*name) points at a node already read: refused, so a file cannot nest
        # aliases into billions of nodes or into itself.
        raise DefinitionError("anchors and aliases (&name, *name) are not supported", line=node.start_mark.line + 1)
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    block = isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")
    lines[(*path, VALUE)] = node.start_mark.line + 1 + (1 if block else 0)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DefinitionError("a key must be a plain word", line=key_node.start_mark.line + 1)
            key = key_node.value
            if key in out:
                raise DefinitionError(f"“{key}” appears twice", line=key_node.start_mark.line + 1)
            lines[(*path, key)] = key_node.start_mark.line + 1  # errors point at the key
            out[key] = _from_node(value_node, (*path, key), lines, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_from_node(item, (*path, i), lines, seen) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))  # a scalar, typed as safe_load would


def _load_yaml(text: str, *, first_line: int = 1) -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + first_line if mark else None
        raise DefinitionError(f"not valid YAML: {getattr(exc, 'problem', exc)}", line=line) from None
    if node is None:
        return {}, {}
    lines: dict[tuple, int] = {}
    data = _from_node(node, (), lines)
    return data, {k: v + first_line - 1 for k, v in lines.items()}


# --- Markdown (the seeds' format) ---------------------------------------------------------------

WIKI_LINK_RE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
DAY_HEADING_RE = re.compile(r"^Day\s+(\d+)(?:\s*[-–]\s*(\d+))?\s*:\s*(.+)$", re.IGNORECASE)
ITEM_RE = re.compile(r"^- \[[ xX]\]\s+(.+)$")
FIELD_RE = re.compile(r"^\*\*(Owner|Timing):\*\*\s*(.+)$", re.IGNORECASE)
WITHIN_HOURS_RE = re.compile(r"within\s+(\d+)\s+hours?", re.IGNORECASE)


def _trigger_from_text(text: str) -> str:
    lowered = text.lower().replace("-", "_")
    if lowered in Trigger.values:
        return lowered
    if "past due" in lowered or "past_due" in lowered:
        return Trigger.SUBSCRIPTION_PAST_DUE
    if "trial" in lowered and ("paid" in lowered or "convert" in lowered):
        return Trigger.TRIAL_CONVERTED
    if "signup" in lowered or "sign up" in lowered or "signs up" in lowered:
        return Trigger.SIGNUP
    return Trigger.MANUAL


def _owner_name(owner_text: str) -> str:
    """“System (Automated) + Alex Chen (kickoff scheduling)” → “Alex Chen”."""
    for part in owner_text.split("+"):
        name = re.sub(r"\(.*?\)", "", part).strip()
        if name and name.lower() not in {"system", "automated", "team"}:
            return name
    return ""


def _markdown_to_raw(text: str) -> tuple[dict[str, Any], dict[tuple, int]]:
    front: dict[str, Any] = {}
    body_start = 0
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise DefinitionError("front matter opened with --- is never closed", line=1)
        front, _ = _load_yaml("\n".join(lines[1:end]), first_line=2)
        if not isinstance(front, dict):
            raise DefinitionError("front matter must be a mapping of key: value", line=2)
        body_start = end + 1
    # Wiki links may span lines; removing only their brackets keeps every line number.
    body = WIKI_LINK_RE.sub(lambda m: m.group(1), "\n".join(lines[body_start:])).splitlines()
    title, description, steps, step_lines = "", [], [], {}
    section: dict[str, Any] | None = None
    for offset, raw_line in enumerate(body):
        line_no = body_start + offset + 1
        line = raw_line.rstrip()
        if line.startswith("# ") and not title:
            title = line[2:].strip()
            continue
        if line.startswith("## "):
            heading = line[3:].strip()
            match = DAY_HEADING_RE.match(heading)
            section = None
            if match:
                first, last, name = int(match[1]), match[2], match[3].strip()
                label = f"Day {first}–{last}: {name}" if last else f"Day {first}: {name}"
                section = {"day": first, "label": label, "owner": "", "timing": "", "items": [], "line": line_no}
                steps.append(section)
            continue
        if section is None:
            if title and line.strip() and not line.startswith("#") and len(steps) == 0:
                description.append(line.strip())
            continue
        field = FIELD_RE.match(line.strip())
        if field:
            section[field[1].lower()] = field[2].strip()
        elif ITEM_RE.match(line):
            section["items"].append({"text": ITEM_RE.match(line)[1].strip(), "notes": [], "line": line_no})
        elif line.startswith((" ", "\t")) and line.strip().startswith("- ") and section["items"]:
            section["items"][-1]["notes"].append(line.strip()[2:].strip())
    if not title:
        raise DefinitionError("a Markdown playbook needs a “# Title” line")
    raw_steps = []
    for section in steps:
        within = WITHIN_HOURS_RE.search(section["timing"])
        for item in section["items"]:
            notes = "\n".join(f"- {n}" for n in item["notes"])
            timing = f"Timing: {section['timing']}" if section["timing"] else ""
            owner = f"Owner: {section['owner']}" if section["owner"] else ""
            step = {
                "key": f"day-{section['day']}-{slugify(item['text'])[:60]}".strip("-"),
                "section": section["label"],
                # “Day 1 … within 2 hours of signup” is the signup day itself.
                "day": 0 if within and section["day"] <= 1 else section["day"],
                "channel": "task",
                "title": item["text"].replace("`", ""),
                "body": "\n\n".join(p for p in (notes, timing, owner) if p),
                "owner": _owner_name(section["owner"]),
                "owner_role": StaffRole.CSM.value,
            }
            if within:
                step["due_in_hours"] = int(within[1])
            step_lines[("steps", len(raw_steps))] = item["line"]
            raw_steps.append(step)
    raw = {
        "slug": str(front.get("slug") or slugify(title)[:80]),
        "name": str(front.get("name") or title),
        "description": "\n".join(description),
        "trigger": _trigger_from_text(str(front.get("trigger", "manual"))),
        "steps": raw_steps,
    }
    for key in ("audience", "stop_when", "reenrol", "send_window"):
        if key in front:
            raw[key] = front[key]
    return raw, step_lines


# --- validation into the canonical form ---------------------------------------------------------


def check_public_address(address: str) -> None:
    ip = ipaddress.ip_address(address)
    if not ip.is_global:
        raise ValueError(f"{address} is a private or reserved address: webhooks only go to public hosts.")


def validate_webhook_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if len(url) > 500:
        raise ValueError("webhook_url is at most 500 characters.")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"webhook_url “{url}” must be an https:// URL.")
    host = parts.hostname.lower()
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None  # a host name: it is resolved and checked again at send time
    if literal is not None:
        check_public_address(host)
    if host not in webhook_hosts():
        raise ValueError(
            f"webhook host “{host}” is not on the allow-list (PLAYBOOK_WEBHOOK_HOSTS: {', '.join(webhook_hosts())})."
        )
    return url


def _parse_trigger(value: Any) -> tuple[str, str]:
    if isinstance(value, dict) and list(value) == ["alert"]:
        value = f"alert:{value['alert']}"
    text = str(value or "").strip()
    if text.startswith("alert:") or text.startswith("alert("):
        rule = text.split(":", 1)[1] if ":" in text else text[6:-1]
        rule = rule.strip()
        if not re.match(r"^[a-z][a-z0-9_]{0,63}$", rule):
            raise ValueError(f"alert trigger needs a rule slug like health_critical, not “{rule}”.")
        return Trigger.ALERT, rule
    if text not in Trigger.values:
        raise ValueError(f"trigger “{text}” is not one of {', '.join(Trigger.values)} (or alert:RULE).")
    return text, ""


def _parse_reenrol(value: Any) -> dict[str, Any]:
    if value in (None, "once"):
        return {"policy": "once"}
    days = value.get("every_days") if isinstance(value, dict) else None
    if isinstance(value, str):
        match = re.match(r"^once per (\d+) days?$", value.strip())
        days = int(match[1]) if match else None
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise ValueError(f"reenrol is “once” or “once per N days” (N from 1 to 3650), not {value!r}.")
    return {"policy": "every", "days": days}


def _parse_window(value: Any) -> dict[str, str]:
    if value is None:
        return dict(DEFAULT_WINDOW)
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise ValueError("send_window needs start and end, e.g. {start: '09:00', end: '18:00'}.")
    start, end = str(value["start"]), str(value["end"])
    if not TIME_RE.match(start) or not TIME_RE.match(end) or start >= end:
        raise ValueError(f"send_window {start}–{end}: use HH:MM times with start before end.")
    return {"start": start, "end": end}


def _text(step: dict[str, Any], key: str) -> str:
    value = step.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"{key} must be text.")
    return str(value).strip()


def _bool(step: dict[str, Any], key: str) -> bool:
    value = step.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} is true or false, not {value!r}.")
    return value


def _int(step: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = step.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{key} must be a whole number from {low} to {high}, not {value!r}.")
    return value


def _step(step: Any) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise ValueError("each step is a mapping with at least key, day and channel.")
    unknown = set(step) - STEP_KEYS
    if unknown:
        raise ValueError(f"unknown step field(s): {', '.join(sorted(unknown))}.")
    key = _text(step, "key")
    if not SLUG_RE.match(key):
        raise ValueError(f"step key “{key}” must be lower-case letters, digits and dashes.")
    channel = _text(step, "channel")
    if channel not in Channel.values:
        raise ValueError(f"channel “{channel}” is not one of {', '.join(Channel.values)}.")
    subject = _text(step, "subject") or _text(step, "title")
    body = _text(step, "body")
    out: dict[str, Any] = {
        "key": key,
        "section": _text(step, "section"),
        "day": _int(step, "day", 0, 0, MAX_DAY),
        "hours": _int(step, "hours", 0, 0, 23),
        "channel": channel,
        "subject": subject,
        "body": body,
        "conditions": normalise_all(step.get("when", step.get("conditions")), where=f"step {key}"),
        "owner_role": "",
        "owner_name": "",
        "transactional": _bool(step, "transactional"),
        "webhook_url": "",
        "due_in_hours": 0,
    }
    for key, limit in (("subject", 300), ("section", 200), ("owner_name", 200)):
        if len(out[key]) > limit:
            raise ValueError(f"{key} is at most {limit} characters (this one has {len(out[key])}).")
    if "\n" in subject or "\r" in subject:
        raise ValueError("a subject (title) is one line.")
    if out["transactional"] and channel not in (Channel.EMAIL, Channel.SMS):
        raise ValueError("only email and sms steps can be transactional.")
    # Transactional is a claim that the customer expects this message at once (a welcome with
    # the login link, a payment-failed notice): the file says why, or it waits for the window.
    reason = _text(step, "transactional_reason")
    if out["transactional"] and not reason:
        raise ValueError(
            "a transactional step skips the send window: say why in transactional_reason "
            "(e.g. “the welcome carries the login link”), or leave transactional out."
        )
    if reason and not out["transactional"]:
        raise ValueError("transactional_reason belongs to a step with transactional: true.")
    if reason:
        out["transactional_reason"] = reason[:200]
    variant = _text(step, "variant")
    if variant:
        if not SLUG_RE.match(variant):
            raise ValueError(f"variant “{variant}” must be lower-case letters, digits and dashes.")
        out["variant"] = variant
    if channel in (Channel.EMAIL, Channel.IN_APP, Channel.TASK) and not subject:
        raise ValueError(f"a {channel} step needs a subject (title).")
    if channel in (Channel.EMAIL, Channel.SMS, Channel.IN_APP, Channel.WEBHOOK) and not body:
        raise ValueError(f"a {channel} step needs a body.")
    if channel == Channel.SMS and len(body) > SMS_MAX_CHARS:
        raise ValueError(f"an SMS body is at most {SMS_MAX_CHARS} characters (this one has {len(body)}).")
    if channel == Channel.TASK:
        role = _text(step, "owner_role") or StaffRole.CSM.value
        if role not in StaffRole.values:
            raise ValueError(f"owner_role “{role}” is not one of {', '.join(StaffRole.values)}.")
        out.update(
            owner_role=role,
            owner_name=_text(step, "owner"),
            due_in_hours=_int(step, "due_in_hours", DEFAULT_TASK_DUE_HOURS, 1, 24 * 60),
        )
    if channel == Channel.WEBHOOK:
        out["webhook_url"] = validate_webhook_url(_text(step, "webhook_url"))
    return out


def _line_for(lines: dict[tuple, int], *path: Any) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def validate(raw: Any, lines: dict[tuple, int] | None = None) -> dict[str, Any]:
    """The canonical definition of a raw (parsed) playbook, or DefinitionError."""
    lines = lines or {}
    if not isinstance(raw, dict):
        raise DefinitionError("a playbook is a mapping with slug, name, trigger and steps", line=1)
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise DefinitionError(
            f"unknown field(s): {', '.join(sorted(unknown))}", line=_line_for(lines, sorted(unknown)[0])
        )

    def field(key: str, parse: Any) -> Any:
        try:
            return parse(raw.get(key))
        except (ValueError, ConditionError) as exc:
            raise DefinitionError(str(exc), line=_line_for(lines, key)) from None

    slug = str(raw.get("slug") or "")
    if not SLUG_RE.match(slug):
        raise DefinitionError(
            f"slug “{slug}” must be lower-case letters, digits and dashes", line=_line_for(lines, "slug")
        )
    name = str(raw.get("name") or "").strip()
    if not name or len(name) > 200:
        raise DefinitionError("name is required (at most 200 characters)", line=_line_for(lines, "name"))
    trigger, trigger_rule = field("trigger", _parse_trigger)
    definition: dict[str, Any] = {
        "slug": slug,
        "name": name,
        "description": str(raw.get("description") or "").strip(),
        "trigger": trigger,
        "trigger_rule": trigger_rule,
        "audience": field("audience", lambda v: normalise_all(v, where="audience")),
        "stop_when": field("stop_when", lambda v: normalise_all(v, where="stop_when")),
        "reenrol": field("reenrol", _parse_reenrol),
        "send_window": field("send_window", _parse_window),
        "steps": [],
    }
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DefinitionError("steps must be a non-empty list", line=_line_for(lines, "steps"))
    seen: set[str] = set()
    for index, raw_step in enumerate(raw_steps):
        try:
            step = _step(raw_step)
        except (ValueError, ConditionError) as exc:
            raise DefinitionError(str(exc), line=_line_for(lines, "steps", index)) from None
        for field_name, raw_key in (("subject", "subject" if "subject" in raw_step else "title"), ("body", "body")):
            try:
                check(step[field_name], field=f"step {step['key']} {field_name}")
            except TemplateError as exc:
                start = lines.get(("steps", index, raw_key, VALUE))
                line = start + exc.line - 1 if start else _line_for(lines, "steps", index)
                raise DefinitionError(exc.reason, line=line) from None
        if step["key"] in seen:
            raise DefinitionError(f"step key “{step['key']}” is used twice", line=_line_for(lines, "steps", index))
        seen.add(step["key"])
        definition["steps"].append(step)
    _check_variant_groups(definition["steps"], lines)
    return definition


def _check_variant_groups(steps: list[dict[str, Any]], lines: dict[tuple, int]) -> None:
    """Members of a variant group are alternatives at one moment: same day and hour, and more
    than one of them (a group of one is a typo of another group's name)."""
    groups: dict[str, list[int]] = {}
    for index, step in enumerate(steps):
        if step.get("variant"):
            groups.setdefault(step["variant"], []).append(index)
    for group, members in groups.items():
        first = steps[members[0]]
        if len(members) == 1:
            raise DefinitionError(
                f"variant group “{group}” has one member ({first['key']}): alternatives need two or more",
                line=_line_for(lines, "steps", members[0]),
            )
        for index in members[1:]:
            step = steps[index]
            if (step["day"], step["hours"]) != (first["day"], first["hours"]):
                raise DefinitionError(
                    f"variant group “{group}”: {step['key']} is on day {step['day']} +{step['hours']} h but "
                    f"{first['key']} on day {first['day']} +{first['hours']} h — alternatives share one moment",
                    line=_line_for(lines, "steps", index),
                )


MAX_COVERAGE_CASES = 500


def variant_gaps(definition: dict[str, Any]) -> list[str]:
    """Warnings for variant groups whose members can all be false at once: every combination
    of the facts their conditions read (facts with a fixed set of values only) is tried, and
    each one no member covers is named. Facts without fixed values (numbers) cannot be
    enumerated: such a group is not checked, and the warning says so."""
    warnings: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for step in definition["steps"]:
        if step.get("variant"):
            groups.setdefault(step["variant"], []).append(step)
    for group, members in groups.items():
        if any(not step["conditions"] for step in members):
            continue  # a member without conditions always holds: covered
        facts = sorted({c["fact"] for step in members for c in step["conditions"]})
        choices: list[tuple[str, ...]] = []
        for fact in facts:
            spec = FACTS.get(fact)
            values = (True, False) if spec and spec.kind == "bool" else (spec.choices if spec else ())
            if not values:
                warnings.append(f"variant group “{group}”: coverage not checked ({fact} has no fixed set of values)")
                break
            choices.append(tuple(values))
        else:
            cases = list(itertools.islice(itertools.product(*choices), MAX_COVERAGE_CASES))
            for case in cases:
                values = dict(zip(facts, case, strict=True))
                if not any(_holds_for(step["conditions"], values) for step in members):
                    shown = ", ".join(f"{fact} = {str(value).lower()}" for fact, value in values.items())
                    warnings.append(f"variant group “{group}”: no member is sent when {shown}")
    return warnings


def _holds_for(conditions: list[dict[str, Any]], values: dict[str, Any]) -> bool:
    return all(holds_for_value(condition, values[condition["fact"]]) for condition in conditions)


def parse(text: str, *, source: str = "", markdown: bool | None = None) -> dict[str, Any]:
    """A file's text (YAML, or Markdown when the name ends in .md) → canonical definition."""
    is_markdown = markdown if markdown is not None else source.lower().endswith((".md", ".markdown", ".txt"))
    try:
        raw, lines = _markdown_to_raw(text) if is_markdown else _load_yaml(text)
        return validate(raw, lines)
    except DefinitionError as exc:
        raise DefinitionError(exc.reason, line=exc.line, source=source) from None


def content_hash(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class _BlockDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def to_yaml(definition: dict[str, Any]) -> str:
    """Writes a definition back as YAML that `parse` reads to the same definition."""
    out = {k: v for k, v in definition.items() if k not in {"trigger_rule", "steps"}}
    if definition["trigger"] == Trigger.ALERT:
        out["trigger"] = f"alert:{definition['trigger_rule']}"
    out["reenrol"] = (
        "once" if definition["reenrol"]["policy"] == "once" else f"once per {definition['reenrol']['days']} days"
    )
    steps = []
    for step in definition["steps"]:
        item = {k: v for k, v in step.items() if v not in ("", [], 0, False) or k in {"key", "day", "channel"}}
        if "owner_name" in item:
            item["owner"] = item.pop("owner_name")
        if "conditions" in item:
            item["when"] = item.pop("conditions")
        steps.append(item)
    out["steps"] = steps
    return yaml.dump(out, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
