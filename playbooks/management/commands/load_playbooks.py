from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from playbooks.definitions import DefinitionError, variant_gaps
from playbooks.library import LIBRARY_DIR, playbooks_load


class Command(BaseCommand):
    help = (
        "Loads playbooks from YAML or Markdown files or folders (default: the built-in library). "
        "Idempotent: an unchanged file changes nothing; a changed one becomes the next version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default {LIBRARY_DIR})")

    def handle(self, *args: object, **options: object) -> None:
        paths = list(options["paths"]) or None
        try:
            results = playbooks_load(paths=paths, now=timezone.now())
        except DefinitionError as exc:
            raise CommandError(f"Nothing loaded. {exc}") from None
        for result in results:
            state = (
                f"new version v{result.version.number}" if result.created else f"unchanged (v{result.version.number})"
            )
            steps = result.version.definition["steps"]
            self.stdout.write(f"{result.playbook.slug}: {state}, {len(steps)} step(s)")
            for warning in variant_gaps(result.version.definition):
                self.stdout.write(self.style.WARNING(f"  warning: {result.playbook.slug}: {warning}"))
