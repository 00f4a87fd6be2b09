from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from health.backtest import backtest
from health.models import HealthModel
from health.services import NoPublishedModel, published_model
from tenants.management.commands.tick import parse_at


class Command(BaseCommand):
    help = "Replays health models over stored history and reports how well they foresaw churn (AUC per model)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            type=int,
            action="append",
            default=[],
            help="a model version to test beside the published one (repeatable)",
        )
        parser.add_argument("--horizon-days", type=int, default=21, help="score this many days back, then look ahead")
        parser.add_argument("--at", default=None, help="ISO 8601 'now' (default: now)")

    def handle(self, *args: object, **options) -> None:
        now = parse_at(options["at"]) if options["at"] else timezone.now()
        if not 1 <= options["horizon_days"] <= 365:
            raise CommandError("--horizon-days must be between 1 and 365.")
        models = []
        try:
            models.append(published_model())
        except NoPublishedModel as exc:
            if not options["model"]:
                raise CommandError(str(exc)) from None
        for version in options["model"]:
            model = HealthModel.objects.filter(version=version).first()
            if model is None:
                raise CommandError(
                    f"No health model v{version}; versions: "
                    f"{', '.join(str(v) for v in HealthModel.objects.values_list('version', flat=True))}."
                )
            if model not in models:
                models.append(model)
        for model in models:
            report = backtest(model=model, now=now, horizon_days=options["horizon_days"])
            self.stdout.write(report.summary())
            for row in report.buckets:
                rate = f"{row.churn_rate:.1f} %" if row.churn_rate is not None else "–"
                self.stdout.write(f"  {row.label:<9} {row.tenants:>5} tenants {row.churned:>4} churned  {rate}")
