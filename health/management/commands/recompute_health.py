from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from health.services import health_recompute_all
from tenants.management.commands.tick import parse_at


class Command(BaseCommand):
    help = "Recomputes the health score of every tenant that has not churned, due or not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", default=None, help="ISO 8601 moment to score as of (default: now)")

    def handle(self, *args: object, **options: str) -> None:
        now = parse_at(options["at"]) if options["at"] else timezone.now()
        result = health_recompute_all(now=now)
        self.stdout.write(
            f"recompute_health: {result.scored} tenant(s) scored, {result.bucket_changes} bucket change(s)"
        )
