"""The cockpit's home: who needs me now and why. It composes the apps' selectors into tiles,
each a count and the link to the list behind it, filtered so that the list has exactly that
many rows (tests/test_numbers_agree.py follows every one). A CSM sees their own book by
default; `all` is every tenant and every queue the person may see. The number of queries is
the same at ten tenants and at ten thousand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Q
from django.urls import reverse

from alerts import selectors as alert_selectors
from alerts.models import ACTIVE_STATUSES, Alert, Severity
from billing import revenue as billing_revenue
from billing import selectors as billing_selectors
from core.roles import StaffRole, staff_roles_of
from core.teamday import team_day_end, team_day_start
from health import selectors as health_selectors
from lifecycle import selectors as lifecycle_selectors
from onboarding import selectors as onboarding_selectors
from onboarding.models import OnboardingTemplate
from playbooks import selectors as playbook_selectors
from playbooks.models import Task
from tenants import selectors as tenant_selectors
from tenants.models import HealthBucket

SCOPES = {"mine": "My book", "all": "Everyone's"}
BUCKET_TONES = {"critical": "error", "at_risk": "warn", "healthy": "ok", "new": "", "": ""}
SEVERITIES = tuple(Severity.values)  # P1, P2, P3, info


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    url: str
    tone: str = ""
    week_ago: int | None = None  # the same count a week before, where the history knows it


TREND_WEEKS = 12
TREND_BUCKETS = (HealthBucket.CRITICAL, HealthBucket.AT_RISK, HealthBucket.HEALTHY, HealthBucket.NEW)


@dataclass(frozen=True)
class TrendWeek:
    day: date
    counts: dict[str, int]
    segments: list[dict]  # stacked bars, bottom up: {bucket, y, height}
    x: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def row(self) -> list[int]:
        return [self.counts.get(bucket, 0) for bucket in TREND_BUCKETS]


@dataclass(frozen=True)
class Trend:
    """Scored tenants by bucket on the same weekday for 12 weeks: a stacked column chart (SVG,
    labelled axes) and the same numbers as a table."""

    weeks: list[TrendWeek]
    top: int  # the y axis' maximum
    height: int = 120
    column: int = 22
    step: int = 30

    @property
    def width(self) -> int:
        return 40 + self.step * len(self.weeks)

    @property
    def labels(self) -> list[str]:
        return [str(b.label) for b in TREND_BUCKETS]


@dataclass
class Home:
    scope: str
    buckets: list[Tile]
    book_total: int
    alerts: list[Tile]
    work: list[Tile]
    alert_head: list[Alert]
    alerts_url: str
    tasks_today: list[Task]
    onboarding: list[Tile] = field(default_factory=list)
    billing: list[Tile] = field(default_factory=list)
    book_mrr_cents: int = 0
    at_risk_mrr_cents: int = 0
    funnel_template: OnboardingTemplate | None = None
    funnel_started: int = 0
    funnel: list[Tile] = field(default_factory=list)  # funnel_template's steps, in order
    first_value_days: float | None = None
    first_value_count: int = 0
    trend: Trend | None = None
    team: list[dict] = field(default_factory=list)

    @property
    def unscored(self) -> int:
        """Tenants in the book with no bucket yet (never scored): in the total, in no tile."""
        return self.book_total - sum(t.count for t in self.buckets)

    @property
    def bars(self) -> list[dict]:
        """The health distribution as horizontal bars (inline SVG, 320 × 20 a row): the longest
        is 180 units; the label and the number are text beside it, so colour is never needed."""
        largest = max([t.count for t in self.buckets] + [1])
        return [
            {
                "tile": t,
                "y": 20 * i,
                "width": round(180 * t.count / largest),
                "value_x": 112 + round(180 * t.count / largest),
            }
            for i, t in enumerate(self.buckets)
        ]

    @property
    def chart_height(self) -> int:
        return 20 * len(self.buckets)


def _url(name: str, **params: str) -> str:
    query = urlencode({k: v for k, v in params.items() if v != ""})
    return reverse(name) + (f"?{query}" if query else "")


def default_scope(user: AbstractBaseUser) -> str:
    """A CSM starts with their own book; a CS lead or an admin with everyone's."""
    roles = staff_roles_of(user)
    return "all" if roles & {StaffRole.CS_LEAD, StaffRole.ADMIN} or StaffRole.CSM not in roles else "mine"


def _trend(history: dict[date, dict[str, int]]) -> Trend | None:
    if not any(history.values()):
        return None
    days = sorted(history)
    top = max(sum(c.values()) for c in history.values()) or 1
    trend = Trend(weeks=[], top=top)
    for i, day in enumerate(days):
        counts, segments, y = history[day], [], trend.height
        for bucket in TREND_BUCKETS:
            height = round(trend.height * counts.get(bucket, 0) / top)
            y -= height
            if height:
                tone = BUCKET_TONES[bucket] or "plain"
                segments.append({"label": bucket.label, "tone": tone, "y": y, "height": height, "n": counts[bucket]})
        trend.weeks.append(TrendWeek(day=day, counts=counts, segments=segments, x=40 + i * trend.step))
    return trend


TREND_CACHE_SECONDS = 15 * 60


def _past_weeks(today: date, *, csm_id: int | None) -> dict[date, dict[str, int]]:
    """Bucket counts on the same weekday of the last 11 weeks. Past days' scores do not change
    (a back-fill after publishing a model rewrites them, at most 15 minutes before this shows
    it), and counting them reads one row per tenant and week: kept in the cache per book and
    day, so the home costs the same at 10,000 tenants as at 100."""
    key = f"home-trend:{csm_id or 'all'}:{today.isoformat()}"
    cached = cache.get(key)
    if cached is None:
        days = [today - timedelta(weeks=k) for k in range(TREND_WEEKS - 1, 0, -1)]
        cached = health_selectors.bucket_counts_by_day(days=days, csm_id=csm_id)
        cache.set(key, cached, TREND_CACHE_SECONDS)
    return dict(cached)


def _bucket_tiles(user: AbstractBaseUser, scope: str, now: datetime) -> tuple[list[Tile], int, Trend | None]:
    csm = str(user.pk) if scope == "mine" else ""
    book = tenant_selectors.tenants_for_staff(filters=tenant_selectors.TenantListFilters(csm=csm))
    counts = dict(book.order_by().values_list("health_bucket").annotate(n=Count("id")))
    today = now.date()
    history = _past_weeks(today, csm_id=user.pk if scope == "mine" else None)
    # This week's column is the tiles' own numbers: the chart ends where the tiles are.
    history[today] = {bucket: n for bucket, n in counts.items() if bucket}
    week_ago = history[today - timedelta(weeks=1)]
    tiles = [
        Tile(
            label=bucket.label if bucket else "Not scored yet",
            count=counts.get(bucket, 0),
            url=_url("cockpit:tenant-list", bucket=bucket, csm=csm, sort="health"),
            tone=BUCKET_TONES[bucket],
            week_ago=week_ago.get(bucket, 0) if week_ago else None,
        )
        for bucket in TREND_BUCKETS
    ]
    return tiles, sum(counts.values()), _trend(history)


FIRST_VALUE_WINDOW = timedelta(days=90)


def _onboarding_tiles(user: AbstractBaseUser, scope: str, now: datetime) -> tuple[list[Tile], float | None, int]:
    """Tenants in their first 30 days, by onboarding progress — each count the tenant list's
    own filter (stage=onboarding & onboarding=…) — and the median days to first value of the
    book's signups of the last 90 days."""
    csm = str(user.pk) if scope == "mine" else ""
    book = tenant_selectors.tenants_for_staff(filters=tenant_selectors.TenantListFilters(csm=csm))
    in_onboarding = tenant_selectors.tenants_for_staff(
        filters=tenant_selectors.TenantListFilters(csm=csm, stage="onboarding")
    )
    tones = {"stalled": "error", "complete": "ok"}
    tiles = [
        Tile(
            label,
            onboarding_selectors.tenants_in_onboarding_stage(in_onboarding, stage).count(),
            _url("cockpit:tenant-list", stage="onboarding", onboarding=stage, csm=csm),
            tones.get(stage, ""),
        )
        for stage, label in onboarding_selectors.ONBOARDING_STAGES
        if stage != "not_started"
    ]
    median, reached = onboarding_selectors.median_days_to_first_value(tenants=book, since=now - FIRST_VALUE_WINDOW)
    return tiles, median, reached


def _funnel(user: AbstractBaseUser, scope: str) -> tuple[OnboardingTemplate | None, int, list[Tile]]:
    """The onboarding tenants of the book on the checklist most of them are on, step by step: each step
    counts those that completed it and every step before (the funnel page's rule), and links
    to the tenant list's `reached` filter, which reads the same Q."""
    csm = str(user.pk) if scope == "mine" else ""
    in_onboarding = tenant_selectors.tenants_for_staff(
        filters=tenant_selectors.TenantListFilters(csm=csm, stage="onboarding")
    )
    template = onboarding_selectors.funnel_template_of(in_onboarding)
    steps = onboarding_selectors.funnel_steps(template_id=template.pk if template else None)
    started, counts = onboarding_selectors.book_funnel(in_onboarding, steps=steps)
    return (
        template,
        started,
        [
            Tile(m.title, n, _url("cockpit:tenant-list", stage="onboarding", reached=str(m.pk), csm=csm))
            for m, n in counts
        ],
    )


def _billing_tiles(user: AbstractBaseUser, scope: str, now: datetime) -> tuple[list[Tile], int, int]:
    """Past due, trials ending this week, renewals within 120 days (each the tenant list's
    filter behind its link), the live expansion pipeline (the pipeline page's), and the book's
    MRR with the part of it at risk (health at risk or critical, or past due: the revenue
    page's definition)."""
    csm = str(user.pk) if scope == "mine" else ""
    book = tenant_selectors.tenants_for_staff(filters=tenant_selectors.TenantListFilters(csm=csm))
    tones = {"past_due": "error", "trial_ending": "warn"}
    tiles = [
        Tile(
            label,
            billing_selectors.tenants_in_billing_state(book, state, now=now).count(),
            _url("cockpit:tenant-list", billing=state, csm=csm),
            tones[state],
        )
        for state, label in billing_selectors.BILLING_STATES
    ]
    # The renewal runway's span: contracts ending within 120 days (each has its CSM tasks).
    tiles.append(
        Tile(
            "Renewals within 120 days",
            tenant_selectors.tenants_renewing_within(book, 120, today=now.date()).count(),
            _url("cockpit:tenant-list", renewal="120", csm=csm),
        )
    )
    # The expansion pipeline being worked (open or proposed): the pipeline page's own list.
    tiles.append(
        Tile(
            "Expansion opportunities",
            lifecycle_selectors.live_pipeline(csm=csm).count,
            _url("cockpit:expansion", stage="live", csm=csm),
        )
    )
    mrr, at_risk = billing_revenue.book_mrr(tenants=book)
    return tiles, mrr, at_risk


def _alert_tiles(user: AbstractBaseUser, scope: str, now: datetime) -> list[Tile]:
    assignee = "me" if scope == "mine" else ""
    active = alert_selectors.alerts_visible_to(user).filter(status__in=ACTIVE_STATUSES)
    if scope == "mine":
        active = active.filter(assignee=user)
    counts = active.aggregate(
        breached=Count("id", filter=alert_selectors.sla_filter("breached", now)),
        **{severity: Count("id", filter=Q(severity=severity)) for severity in SEVERITIES},
    )
    tiles = [
        Tile("SLA breached", counts["breached"], _url("cockpit:alerts", assignee=assignee, sla="breached"), "error")
    ]
    tones = {"P1": "error", "P2": "warn"}
    tiles += [
        Tile(
            label,
            counts[severity],
            _url("cockpit:alerts", assignee=assignee, severity=severity),
            tones.get(severity, ""),
        )
        for severity, label in Severity.choices
    ]
    return tiles


def _team(user: AbstractBaseUser, now: datetime) -> list[dict]:
    """Per CSM: their book, their active alerts (and breached), their open tasks."""
    people = list(tenant_selectors.csm_choices())
    books = tenant_selectors.book_sizes()
    alerts = alert_selectors.active_alerts_by_assignee(user=user, now=now)
    tasks = playbook_selectors.open_tasks_by_assignee()
    rows = []
    for person in people:
        rows.append(
            {
                "person": person,
                "tenants": Tile("tenants", books.get(person.pk, 0), _url("cockpit:tenant-list", csm=str(person.pk))),
                "alerts": Tile(
                    "active alerts",
                    alerts.get(person.pk, {}).get("active", 0),
                    _url("cockpit:alerts", assignee=str(person.pk)),
                ),
                "breached": Tile(
                    "breached",
                    alerts.get(person.pk, {}).get("breached", 0),
                    _url("cockpit:alerts", assignee=str(person.pk), sla="breached"),
                    "error",
                ),
                "tasks": tasks.get(person.pk, 0),
            }
        )
    return [r for r in rows if r["tenants"].count or r["alerts"].count or r["tasks"]]


def home_for(*, user: AbstractBaseUser, scope: str, now: datetime) -> Home:
    buckets, total, trend = _bucket_tiles(user, scope, now)
    onboarding, first_value_days, first_value_count = _onboarding_tiles(user, scope, now)
    funnel_template, funnel_started, funnel = _funnel(user, scope)
    billing, book_mrr, at_risk_mrr = _billing_tiles(user, scope, now)
    roles = staff_roles_of(user)
    filters = alert_selectors.QueueFilters(assignee="me" if scope == "mine" else "")
    head = list(alert_selectors.alert_queue(user=user, filters=filters, now=now)[:5])
    for alert in head:
        alert.sla = alert_selectors.sla_state(alert, now)
    task_scope = "mine" if scope == "mine" else "all"
    tasks = playbook_selectors.tasks_for_staff(user=user, roles=roles, scope=task_scope)
    csm = str(user.pk) if scope == "mine" else ""
    day = {"since": team_day_start(now), "until": team_day_end(now), "csm": csm}
    failed_today = playbook_selectors.touchpoints_for_staff(outcome="failed", **day).count()
    work = [
        Tile("Open tasks", tasks.count(), _url("cockpit:tasks", scope=task_scope)),
        Tile(
            "Touchpoints sent today",
            playbook_selectors.touchpoints_for_staff(outcome="sent", **day).count(),
            _url("cockpit:touchpoints", outcome="sent", day="today", csm=csm),
        ),
        Tile(
            "Touchpoints failed today",
            failed_today,
            _url("cockpit:touchpoints", outcome="failed", day="today", csm=csm),
            "error" if failed_today else "",
        ),
        Tile(
            "Touchpoints to review",
            playbook_selectors.deliveries_needing_review().count(),
            _url("cockpit:needs-review"),
            "warn",
        ),
    ]
    return Home(
        scope=scope,
        buckets=buckets,
        book_total=total,
        alerts=_alert_tiles(user, scope, now),
        work=work,
        alert_head=head,
        alerts_url=_url("cockpit:alerts", assignee="me" if scope == "mine" else ""),
        tasks_today=list(tasks.filter(due_at__lt=team_day_end(now))[:10]),
        trend=trend,
        onboarding=onboarding,
        funnel_template=funnel_template,
        funnel_started=funnel_started,
        funnel=funnel,
        billing=billing,
        book_mrr_cents=book_mrr,
        at_risk_mrr_cents=at_risk_mrr,
        first_value_days=first_value_days,
        first_value_count=first_value_count,
        team=_team(user, now) if roles & {StaffRole.CS_LEAD, StaffRole.ADMIN} else [],
    )
