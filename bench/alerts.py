"""Escalation-rule speed: `rules_evaluate()` over 10,000 tenants with 45 days of rollups, on
PostgreSQL, beside a bare `SELECT count(*)` over the tenants and the rollups (the floor: the
tables read once, nothing computed) in the same run. The issue's target is an absolute one —
evaluating all rules over 10,000 tenants in under 5 s — so the figures are seconds, with the
ratio to the floor beside them.

Three evaluations, each timed rule by rule (`rule_evaluate`, as `rules_evaluate` calls it):
the first (opens every alert: timeline, audit and notification rows, alert-triggered playbook
runs), a steady state a minute later (nothing changed, nothing to write), and a steady state
after a few hundred conditions changed (some alerts resolve, some open). Then
`rules_evaluate()` itself, as the tick calls it, best of 3 on the steady state.

    make bench            (or: .venv/bin/python bench/alerts.py [--tenants 10000])
"""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common import BENCH_DATABASE_URL, best_of, line, setup_django, summary, timed

# Before Django reads its settings: nothing is sent here (notifications are rows), but anything
# sent by mistake would land in memory.
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ["SMS_BACKEND"] = "locmem"
# As in production: DEBUG off (no per-query logging in the ORM cursor wrapper).
os.environ.setdefault("DEBUG", "0")

ALERTS_URL = BENCH_DATABASE_URL + "_alerts"
DAYS = 45
CSMS = 20
LEADS = 2
SEGMENTS = ["", "", "Dental clinics", "Home services", "Law firms"]


def drop_database(url: str) -> None:
    """A fresh database every run: the alerts, runs and notifications of the last run would
    otherwise change what the first evaluation has to do."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- data ------------------------------------------------------------------------------------


@dataclass
class Profile:
    """What one tenant's history looks like; `*_ago` are days before today (UTC)."""

    kind: str  # "old", "new" (signed up 2-5 days ago), "churned"
    signed_up_ago: float
    last_ago: int  # the last day with events (silent tenants: 8-30)
    base: int  # calls a day
    usage_drop: bool = False
    errors: bool = False
    spike: bool = False
    outreach_last_ago: int | None = None  # None: never sends outreach
    nps: tuple[int, int] | None = None  # (days ago, score)
    score: float | None = None
    score_week_ago: float | None = None
    milestones_done: int | None = None  # new tenants: the first N milestones; None: all


def profiles(count: int, rng: random.Random) -> list[Profile]:
    result = []
    for _ in range(count):
        r = rng.random()
        if r < 0.02:
            result.append(Profile("churned", rng.uniform(60, 700), rng.randint(30, 44), rng.randint(5, 60)))
            continue
        if r < 0.06:
            p = Profile("new", rng.uniform(2, 5), 0, rng.randint(1, 10))
        else:
            silent = rng.random() < 0.03
            p = Profile("old", rng.uniform(30, 700), rng.randint(8, 30) if silent else 0, rng.randint(5, 60))
            p.usage_drop = not silent and rng.random() < 0.02
            p.errors = rng.random() < 0.3
            p.spike = not silent and rng.random() < 0.01
            if rng.random() < 0.4:  # sends outreach; a tenth of those stopped 8-30 days ago
                p.outreach_last_ago = max(p.last_ago, rng.randint(8, 30) if rng.random() < 0.1 else 0)
            if rng.random() < 0.05:
                nps_ago = rng.randint(max(1, p.last_ago), 29)
                p.nps = (nps_ago, rng.randint(0, 6) if rng.random() < 0.4 else rng.randint(7, 10))
            b = rng.random()
            p.score = rng.uniform(20, 59.9) if b < 0.06 else rng.uniform(60, 79.9) if b < 0.26 else rng.uniform(80, 99)
            # A week ago: about the same, or (4 %) at least 20 % higher.
            p.score_week_ago = (
                min(100.0, p.score / rng.uniform(0.55, 0.78))
                if rng.random() < 0.04
                else p.score * rng.uniform(0.95, 1.1)
            )
        result.append(p)
    return result


def bucket(score: float | None) -> str:
    # The published default model: healthy >= 80, at risk 60-79, critical < 60.
    if score is None:
        return ""
    return "healthy" if score >= 80 else "at_risk" if score >= 60 else "critical"


def build(tenant_count: int, now: datetime) -> dict[str, int]:
    """Staff, tenants, onboarding, rollups, NPS events and scores. Tenants and onboardings
    through the ORM in bulk, the rest generated inside PostgreSQL from a profile table."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from core.roles import StaffRole
    from health.services import published_model
    from onboarding.models import Milestone, TenantOnboarding
    from onboarding.services import template_for
    from tenants.models import Tenant

    rng = random.Random(42)
    today = now.date()
    User = get_user_model()
    csms = [
        User.objects.create_user(username=f"csm{n}@bench.example", email=f"csm{n}@bench.example") for n in range(CSMS)
    ]
    leads = [
        User.objects.create_user(username=f"lead{n}@bench.example", email=f"lead{n}@bench.example")
        for n in range(LEADS)
    ]
    Group.objects.get(name=StaffRole.CSM).user_set.add(*csms)
    Group.objects.get(name=StaffRole.CS_LEAD).user_set.add(*leads)

    plans = Tenant.Plan.values
    specs = profiles(tenant_count, rng)
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                external_id=f"abench-{n:05d}",
                name=f"Alerts bench {n}",
                slug=f"abench-{n:05d}",
                plan=plans[n % 3],
                segment=SEGMENTS[n % len(SEGMENTS)],
                signed_up_at=now - timedelta(days=p.signed_up_ago),
                lifecycle_stage=(
                    Tenant.LifecycleStage.CHURNED
                    if p.kind == "churned"
                    else Tenant.LifecycleStage.ONBOARDING
                    if p.kind == "new"
                    else Tenant.LifecycleStage.ADOPTION
                ),
                churned_at=now - timedelta(days=p.last_ago) if p.kind == "churned" else None,
                # A tenth have no CSM: their alerts wait in the role's queue.
                csm_owner=csms[n % CSMS] if n % 10 else None,
                owner_name=f"Owner {n}",
                owner_email=f"o{n}@abench.example",
                health_score=p.score,
                health_bucket=bucket(p.score),
                health_computed_at=now - timedelta(hours=1) if p.score is not None else None,
                last_seen_at=now - timedelta(days=p.last_ago, minutes=rng.randint(5, 600)),
                data_as_of=now - timedelta(days=p.last_ago, minutes=rng.randint(1, 5)),
            )
            for n, p in enumerate(specs)
        ],
        batch_size=2000,
    )

    # Onboarding as onboarding_start leaves it (the template for plan and segment), in bulk:
    # everyone but the new signups finished long ago.
    templates = {key: template_for(plan=key[0], segment=key[1]) for key in {(t.plan, t.segment) for t in tenants}}
    TenantOnboarding.all_tenants.bulk_create(
        [
            TenantOnboarding(
                tenant=t,
                template=templates[t.plan, t.segment],
                started_at=t.signed_up_at,
                completed_at=None if p.kind == "new" else t.signed_up_at + timedelta(days=9),
                first_value_at=None if p.kind == "new" else t.signed_up_at + timedelta(days=3),
            )
            for t, p in zip(tenants, specs, strict=True)
        ],
        batch_size=2000,
    )
    # New signups: the first N milestones done, N short of the last required one (a fifth of
    # them finished everything already).
    last_required = {
        tid: max(m.position for m in Milestone.objects.filter(template_id=tid, required=True))
        for tid in {t.id for t in templates.values()}
    }
    for t, p in zip(tenants, specs, strict=True):
        if p.kind == "new" and rng.random() >= 0.2:
            p.milestones_done = rng.randint(0, last_required[templates[t.plan, t.segment].id])
    TenantOnboarding.all_tenants.filter(
        tenant_id__in=[
            t.id for t, p in zip(tenants, specs, strict=True) if p.kind == "new" and p.milestones_done is None
        ]
    ).update(completed_at=now - timedelta(hours=6))

    columns = {
        "tenant_id": ("int", [t.id for t in tenants]),
        "kind": ("text", [p.kind for p in specs]),
        "first_ago": ("int", [min(DAYS - 1, int(p.signed_up_ago)) for p in specs]),
        "last_ago": ("int", [p.last_ago for p in specs]),
        "base": ("int", [p.base for p in specs]),
        "usage_drop": ("bool", [p.usage_drop for p in specs]),
        "errors": ("bool", [p.errors for p in specs]),
        "spike": ("bool", [p.spike for p in specs]),
        "outreach_last_ago": ("int", [p.outreach_last_ago for p in specs]),
        "nps_ago": ("int", [p.nps[0] if p.nps else None for p in specs]),
        "nps_score": ("int", [p.nps[1] if p.nps else None for p in specs]),
        "score": ("float8", [p.score for p in specs]),
        "score_week_ago": ("float8", [p.score_week_ago for p in specs]),
        "milestones_done": ("int", [p.milestones_done for p in specs]),
    }
    unnest = ", ".join(f"%s::{kind}[]" for kind, _ in columns.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"CREATE TEMP TABLE bench_profile AS SELECT * FROM unnest({unnest}) AS p({', '.join(columns)})",
            [values for _, values in columns.values()],
        )
        cursor.execute(
            """
            INSERT INTO onboarding_milestoneprogress (tenant_id, milestone_id, completed_at, source, note, data)
            SELECT o.tenant_id, m.id, o.started_at + make_interval(days => m.expected_by_day), 'wizard', '', '{}'
            FROM onboarding_tenantonboarding o
            JOIN bench_profile p ON p.tenant_id = o.tenant_id
            JOIN onboarding_milestone m ON m.template_id = o.template_id
            WHERE p.kind <> 'new' OR p.milestones_done IS NULL OR m.position < p.milestones_done
            """
        )
        # Usage every day from signup (at most DAYS back) to the last day seen; a fiftieth of
        # the tenants at under a third of their usual level in the last complete week.
        cursor.execute(
            """
            INSERT INTO health_dailyrollup (tenant_id, day, name, count, distinct_users, value_sum, value_count)
            SELECT p.tenant_id, %(today)s::date - g.ago, 'call.handled',
                   greatest(1, round(p.base * (0.7 + random() * 0.6)
                                     * CASE WHEN p.usage_drop AND g.ago BETWEEN 1 AND 7 THEN 0.3 ELSE 1 END))::int,
                   1 + (random() * 4)::int, 0, 0
            FROM bench_profile p CROSS JOIN generate_series(0, %(days)s - 1) AS g(ago)
            WHERE g.ago BETWEEN p.last_ago AND p.first_ago
            UNION ALL
            SELECT p.tenant_id, %(today)s::date - g.ago, 'appointment.booked', 1 + (random() * 5)::int, 1, 0, 0
            FROM bench_profile p CROSS JOIN generate_series(0, %(days)s - 1) AS g(ago)
            WHERE g.ago BETWEEN p.last_ago AND p.first_ago AND random() < 0.5
            UNION ALL
            -- Errors: 1-3 on about half the days for three tenths of the tenants; a spike of
            -- 10-30 today for a hundredth.
            SELECT p.tenant_id, %(today)s::date - g.ago, 'error.raised',
                   CASE WHEN p.spike AND g.ago = 0 THEN 10 + (random() * 20)::int ELSE 1 + (random() * 2)::int END,
                   1, 0, 0
            FROM bench_profile p CROSS JOIN generate_series(0, %(days)s - 1) AS g(ago)
            WHERE g.ago BETWEEN p.last_ago AND p.first_ago
              AND ((p.spike AND g.ago = 0) OR (p.errors AND random() < 0.5))
            UNION ALL
            SELECT p.tenant_id, %(today)s::date - g.ago, 'outreach.sent', 5 + (random() * 35)::int, 1, 0, 0
            FROM bench_profile p CROSS JOIN generate_series(0, %(days)s - 1) AS g(ago)
            WHERE g.ago BETWEEN p.outreach_last_ago AND p.first_ago
            UNION ALL
            SELECT p.tenant_id, %(today)s::date - p.nps_ago, 'nps.submitted', 1, 1, p.nps_score, 1
            FROM bench_profile p WHERE p.nps_ago IS NOT NULL
            """,
            {"today": today, "days": DAYS},
        )
        cursor.execute(
            """
            INSERT INTO health_event (tenant_id, name, occurred_at, received_at, user_id, properties)
            SELECT p.tenant_id, 'nps.submitted', %(noon)s - make_interval(days => p.nps_ago),
                   %(noon)s - make_interval(days => p.nps_ago), 'owner',
                   jsonb_build_object(
                       'score', p.nps_score,
                       'comment', CASE WHEN p.nps_score <= 6 THEN 'Calls drop during transfers' ELSE '' END
                   )
            FROM bench_profile p WHERE p.nps_ago IS NOT NULL
            """,
            {"noon": datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)},
        )
        cursor.execute(
            """
            INSERT INTO health_healthscore (tenant_id, day, computed_at, score, bucket, model_id, components)
            SELECT p.tenant_id, %(today)s::date - w.ago, %(now)s - make_interval(days => w.ago),
                   CASE WHEN w.ago = 0 THEN p.score ELSE p.score_week_ago END,
                   CASE WHEN (CASE WHEN w.ago = 0 THEN p.score ELSE p.score_week_ago END) >= 80 THEN 'healthy'
                        WHEN (CASE WHEN w.ago = 0 THEN p.score ELSE p.score_week_ago END) >= 60 THEN 'at_risk'
                        ELSE 'critical' END,
                   %(model)s, '[]'
            FROM bench_profile p CROSS JOIN (VALUES (0), (7)) AS w(ago)
            WHERE p.score IS NOT NULL
            """,
            {"today": today, "now": now, "model": published_model().id},
        )
        counts = {}
        for table in ("tenants_tenant", "health_dailyrollup", "health_event", "health_healthscore"):
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        for table in ("onboarding_tenantonboarding", "onboarding_milestoneprogress"):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("DROP TABLE bench_profile")
    return counts


def change_conditions(now: datetime) -> int:
    """A few hundred conditions change between two ticks: some clear (their alerts resolve),
    some start to hold (new alerts open). Returns how many tenants changed."""
    from django.db import connection
    from django.db.models import Max, Q

    from health.models import DailyRollup
    from onboarding.models import Milestone, MilestoneProgress, TenantOnboarding
    from tenants.models import Tenant

    old = Tenant.objects.filter(lifecycle_stage=Tenant.LifecycleStage.ADOPTION).order_by("id")
    week_ago = now - timedelta(days=7)
    # Both sides chosen before either is changed, so no tenant flips twice.
    critical = list(old.filter(health_bucket="critical").values_list("id", flat=True)[:100])
    healthy = list(old.filter(health_bucket="healthy").values_list("id", flat=True)[:100])
    silent = list(old.filter(last_seen_at__lt=week_ago).values_list("id", flat=True)[:50])
    active = list(old.filter(last_seen_at__gte=week_ago).values_list("id", flat=True)[:50])
    changed = 0
    # Health critical → healthy, and healthy → critical.
    changed += Tenant.objects.filter(id__in=critical).update(health_score=85.0, health_bucket="healthy")
    changed += Tenant.objects.filter(id__in=healthy).update(health_score=45.0, health_bucket="critical")
    # Silent tenants send events again; active ones fall silent.
    changed += Tenant.objects.filter(id__in=silent).update(last_seen_at=now - timedelta(minutes=5))
    changed += Tenant.objects.filter(id__in=active).update(last_seen_at=now - timedelta(days=10))
    # Idle outreach senders send again today.
    idle = list(
        DailyRollup.all_tenants.filter(name="outreach.sent", tenant__lifecycle_stage="adoption")
        .values("tenant_id")
        .annotate(last=Max("day"))
        .filter(last__lte=now.date() - timedelta(days=7))
        .order_by("tenant_id")
        .values_list("tenant_id", flat=True)[:50]
    )
    DailyRollup.all_tenants.bulk_create(
        [DailyRollup(tenant_id=tid, day=now.date(), name="outreach.sent", count=12) for tid in idle],
        update_conflicts=True,
        unique_fields=["tenant", "day", "name"],
        update_fields=["count"],
    )
    changed += len(idle)
    # New signups finish their onboarding.
    stalled = list(
        TenantOnboarding.all_tenants.filter(completed_at__isnull=True, started_at__lte=now - timedelta(hours=72))
        .order_by("tenant_id")
        .values_list("tenant_id", "template_id")[:30]
    )
    MilestoneProgress.all_tenants.bulk_create(
        [
            MilestoneProgress(tenant_id=tid, milestone=m, completed_at=now, source="staff")
            for tid, template_id in stalled
            for m in Milestone.objects.filter(template_id=template_id)
        ],
        ignore_conflicts=True,
    )
    TenantOnboarding.all_tenants.filter(Q(tenant_id__in=[tid for tid, _ in stalled])).update(completed_at=now)
    changed += len(stalled)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tenants_tenant")
    return changed


# --- measuring -------------------------------------------------------------------------------


ALERT_RUNS = "(alert playbook runs)"  # the reconcile step that starts what an open alert triggers


@dataclass
class RuleTime:
    slug: str
    seconds: float
    holds: str
    opened: int
    resolved: int


def evaluate_per_rule(now: datetime) -> tuple[float, list[RuleTime], object]:
    """What rules_evaluate(now) does, with each rule_evaluate timed on its own."""
    from alerts.models import AlertRule
    from alerts.rules import RULES
    from alerts.services import EvaluationResult, rule_evaluate, rules_sync

    result, times = EvaluationResult(), []
    started = time.perf_counter()
    rules_sync(now=now)
    for rule in AlertRule.objects.order_by("slug"):
        spec = RULES.get(rule.slug)
        if spec is None or not rule.enabled:
            continue
        opened, resolved = result.opened, result.resolved
        seconds = timed(lambda rule=rule, spec=spec: rule_evaluate(rule_id=rule.id, spec=spec, now=now, result=result))
        holds = AlertRule.objects.get(id=rule.id).last_result.split(";")[0].removeprefix("holds for ")
        times.append(RuleTime(rule.slug, seconds, holds, result.opened - opened, result.resolved - resolved))
    # The playbooks an alert triggers start in the playbook reconcile that follows in the tick.
    from playbooks.scheduling import ReconcileResult, alert_runs_start

    reconciled = ReconcileResult()
    seconds = timed(lambda: alert_runs_start(now=now, result=reconciled))
    times.append(RuleTime(ALERT_RUNS, seconds, str(reconciled.started), 0, 0))
    return time.perf_counter() - started, times, result


def conditions_only(now: datetime) -> dict[str, float]:
    """Each rule's condition alone (its queries and Python, no alert reconcile), best of 3."""
    from alerts.models import AlertRule
    from alerts.rules import RULES

    out = {}
    for rule in AlertRule.objects.filter(enabled=True).order_by("slug"):
        spec = RULES[rule.slug]
        params = spec.effective(rule.params)
        out[rule.slug] = best_of(lambda spec=spec, params=params: spec.evaluate(params, now))
    return out


def baseline() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenants_tenant")
        cursor.fetchone()
        cursor.execute("SELECT count(*) FROM health_dailyrollup")
        cursor.fetchone()


def report(
    label: str, total: float, times: list[RuleTime], floor: float, extra: dict[str, float] | None = None
) -> None:
    opened, resolved = sum(t.opened for t in times), sum(t.resolved for t in times)
    line(label, f"{total:.2f} s", f"{total / floor:,.0f}x baseline; {opened:,} opened, {resolved:,} resolved")
    for t in times:
        if t.slug == ALERT_RUNS:
            line(f"  {t.slug}", f"{t.seconds:.3f} s", f"{t.holds} run(s) started")
            continue
        note = f"holds {t.holds}, opened {t.opened:,}, resolved {t.resolved:,}"
        if extra is not None:
            note += f"; condition alone {extra[t.slug]:.3f} s"
        line(f"  {t.slug}", f"{t.seconds:.3f} s", note)


def written_rows() -> dict[str, int]:
    from alerts.models import Alert
    from messaging.models import Message
    from playbooks.models import Delivery, Run
    from tenants.models import AuditLog, TimelineEntry

    return {
        "alerts": Alert.all_tenants.count(),
        "timeline": TimelineEntry.all_tenants.count(),
        "audit": AuditLog.objects.count(),
        "push": Message.objects.filter(purpose="alert.push").count(),
        "digest": Alert.all_tenants.filter(notified="digest").count(),
        "runs": Run.all_tenants.count(),
        "deliveries": Delivery.all_tenants.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=int(os.environ.get("BENCH_ALERTS_TENANTS", "10000")))
    args = parser.parse_args()

    drop_database(ALERTS_URL)
    setup_django(ALERTS_URL)
    from alerts.services import rules_evaluate
    from playbooks.models import Playbook

    # Noon UTC today: a minute or two later is still the same UTC day for the day-based rules.
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    # Installed after migrate: alerts of these rules start runs (the first evaluation's writes).
    for slug in ("at-risk-recovery", "white-glove-setup"):
        if not Playbook.objects.filter(slug=slug, enabled=True).exists():
            raise SystemExit(f"the built-in playbook {slug} is missing or disabled")
    counts: dict[str, int] = {}
    setup = timed(lambda: counts.update(build(args.tenants, now)))
    tenants, rollups = counts["tenants_tenant"], counts["health_dailyrollup"]
    label = f"alerts {tenants / 1000:g}k tenants"
    line(
        f"set-up: {tenants:,} tenants, {rollups:,} rollups, {DAYS} days (not a figure)",
        f"{setup:.1f} s",
        f"{counts['health_event']:,} NPS events, {counts['health_healthscore']:,} scores",
    )

    baseline()  # warm the cache
    floor = best_of(baseline)
    line("baseline: SELECT count(*) over tenants + rollups", f"{floor * 1000:.1f} ms", "(baseline)")

    total, times, _ = evaluate_per_rule(now)
    rows = written_rows()
    report(f"{label}: first evaluation", total, times, floor)
    line(
        "  written",
        f"{rows['alerts']:,} alerts",
        f"{rows['timeline']:,} timeline, {rows['audit']:,} audit, {rows['push']:,} push rows "
        f"({rows['digest']:,} alerts held for the digest), {rows['runs']:,} runs "
        f"({rows['deliveries']:,} deliveries) started",
    )

    steady = now + timedelta(minutes=1)
    total, times, _ = evaluate_per_rule(steady)
    report(f"{label}: steady state, nothing changed", total, times, floor, conditions_only(steady))

    changed = change_conditions(now)
    total, times, _ = evaluate_per_rule(now + timedelta(minutes=2))
    report(f"{label}: steady state after {changed} tenants changed", total, times, floor)

    ticks = iter(range(3, 100))
    whole = best_of(lambda: rules_evaluate(now=now + timedelta(minutes=next(ticks))))
    line(f"{label}: rules_evaluate(), steady state, best of 3", f"{whole:.2f} s", f"{whole / floor:,.0f}x baseline")


if __name__ == "__main__":
    main()
    summary("alerts", target="every rule over 10,000 tenants in < 5 s (steady state)")
