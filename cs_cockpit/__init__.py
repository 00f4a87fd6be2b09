"""The shell: what makes the apps one product, and nothing an app could own.

- settings, the Celery app, WSGI, the root URLs (`urls.py` mounts each app's `urls.py`);
- the base layout and the cockpit pages that compose several apps' selectors: the home
  (`home.py`), the tenant list and a tenant's page (`views.py`), the past-due queue and
  revenue (`billing_queue.py`, billing with playbooks' dunning), the churn-reason form
  (`churn.py`), the system status (`status.py`, and `api.py` for GET /api/v1/status/);
- the probes (/healthz, /readyz), demo data and the `demo` command.

A page about one app's data lives in that app (`alerts/views.py`, `playbooks/views.py`,
`health/views.py`, `onboarding/cockpit.py`); a write is a service of the app it changes.
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
