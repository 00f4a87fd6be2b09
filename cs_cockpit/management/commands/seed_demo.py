from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cs_cockpit.demo_data import seed_demo


class Command(BaseCommand):
    help = "Creates realistic demo tenants (idempotent: existing demo tenants are kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenants", type=int, default=150)
        parser.add_argument("--days", type=int, default=60, help="signups spread over the last D days")

    def handle(self, *args: object, **options: int) -> None:
        if not 1 <= options["tenants"] <= 100_000:
            raise CommandError("--tenants must be between 1 and 100000.")
        if not 1 <= options["days"] <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        result = seed_demo(tenants=options["tenants"], days=options["days"], now=timezone.now())
        self.stdout.write(
            f"seed_demo: {result.tenants_created} tenants created, {result.tenants_existing} already there, "
            f"{result.events} events ingested, {result.scores} health scores written, "
            f"{result.touchpoints} touchpoints sent in the replayed month (to in-memory outboxes), "
            f"{result.stripe_events} signed Stripe events processed, "
            f"{result.alerts} alerts opened by the escalation rules."
        )
