"""Escalations: rules that watch every tenant (rules.py), the alerts they open and resolve
(services.py, level-triggered each tick), their SLAs, notification budgets and digests
(notify.py), the alert queue and rule pages (views.py) and the alerts API (api.py).

Alerts know nothing of playbooks: a playbook triggered by a rule starts from the open alert
in the playbooks reconcile (playbooks.scheduling.alert_runs_start)."""
