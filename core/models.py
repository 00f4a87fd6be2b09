"""The core layer's models: the tick's heartbeats and the providers' webhook tallies."""

from django.db import models


class JobHeartbeat(models.Model):
    """When each periodic job (and the tick as a whole, name "tick") last finished.
    /readyz reads the tick's row."""

    name = models.CharField(max_length=100, unique=True)
    last_now = models.DateTimeField(help_text="The `now` the job ran as of (differs from wall time for --at).")
    last_started_at = models.DateTimeField()
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.CharField(max_length=500, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "tenants_jobheartbeat"  # moved from tenants with the tick registry; the table stayed

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_finished_at}"


class WebhookTally(models.Model):
    """How many webhooks one provider (Stripe, Twilio) sent us in one hour, and how many we
    refused (bad signature, unreadable body) or failed on. System status reads the last 24
    rows per provider: a wrong signing secret or a proxy that rewrites the URL shows up as
    refusals long before anyone misses a receipt."""

    provider = models.CharField(max_length=20)
    hour = models.DateTimeField(help_text="The start of the hour (UTC).")
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0, help_text="Verified, but processing raised: a 500 to the provider.")
    last_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "hour"], name="webhook_tally_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.hour:%Y-%m-%d %H}:00"
