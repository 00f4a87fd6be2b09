from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Creates an API key and prints it, alone, on the last line. Only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", required=True, choices=ApiKey.Scope.values)
        parser.add_argument("--tenant", default=None, help="external_id of the tenant the key is bound to")

    def handle(self, *args: object, **options: str) -> None:
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(external_id=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant with external_id {options['tenant']!r}.")
        try:
            issued = api_key_create(
                name=options["name"], scope=options["scope"], tenant=tenant, actor=None, now=timezone.now()
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        bound = f" for tenant {tenant.external_id}" if tenant else ""
        self.stdout.write(f"Created {issued.api_key.scope} key “{issued.api_key.name}”{bound}. Store it now:")
        self.stdout.write(issued.plaintext)
