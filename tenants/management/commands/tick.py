from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core import ticks


def parse_at(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--at {value!r} is not an ISO 8601 date-time, e.g. 2026-11-22T09:00:00+00:00.") from None
    if timezone.is_naive(at):
        raise CommandError(f"--at {value!r} has no UTC offset; add one, e.g. {value}+00:00 or {value}Z.")
    return at


class Command(BaseCommand):
    help = "Runs every periodic job once, as of --at (default: now). Prints one line per job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", type=str, default=None, help="ISO 8601 moment to run as of, with offset.")

    def handle(self, *args: object, **options: object) -> None:
        from core.startup import refuse_unsafe_start

        refuse_unsafe_start("the tick")
        now = parse_at(str(options["at"])) if options["at"] else timezone.now()
        results = ticks.run_tick(now=now)
        for result in results:
            self.stdout.write(f"{result.name}: {result.summary}")
        if not all(r.ok for r in results):
            raise CommandError("some tick jobs failed (see above)")
