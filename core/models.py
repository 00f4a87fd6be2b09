"""The one model the core layer owns: the tick's heartbeats."""

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
