import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from playbooks.models import Playbook
from playbooks.simulation import simulate, tenants_for_simulation


class Command(BaseCommand):
    help = (
        "Dry run: what a playbook would do for each tenant if it started now, step by step, "
        "from today's facts. Sends nothing and writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--tenants", default="all", help="“all” or comma-separated external ids")
        parser.add_argument("--days", type=int, default=30, help="how many days of steps to simulate (1–365)")

    def handle(self, *args: object, **options: object) -> None:
        playbook = Playbook.objects.select_related("current").filter(slug=options["slug"]).first()
        if playbook is None:
            known = ", ".join(Playbook.objects.values_list("slug", flat=True))
            raise CommandError(f"No playbook “{options['slug']}”; known: {known}.")
        days = options["days"]
        if not 1 <= days <= 365:
            raise CommandError(f"--days must be from 1 to 365, not {days}.")
        tenants, missing = tenants_for_simulation(str(options["tenants"]))
        if missing:
            raise CommandError(f"Unknown or churned tenant(s): {', '.join(missing)}.")
        started = time.perf_counter()
        result = simulate(playbook=playbook, tenants=tenants, days=days, now=timezone.now())
        elapsed = time.perf_counter() - started
        for t in result.tenants:
            if not t.enrolled:
                self.stdout.write(f"{t.tenant.external_id}: would not start — {t.why}")
                continue
            for s in t.steps:
                what = s.reason or s.subject
                self.stdout.write(
                    f"{t.tenant.external_id}: {s.at:%Y-%m-%d %H:%M} UTC {s.step.key} → {s.action}: {what}"
                )
        self.stdout.write(
            f"{len(result.tenants)} tenant(s), {result.enrolled} would start; send {result.count('send')}, "
            f"skip {result.count('skip')}, defer {result.count('defer')}, fail {result.count('fail')} "
            f"over {days} day(s) — simulated in {elapsed:.2f} s, nothing sent or written"
        )
