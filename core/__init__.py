"""The layer beneath every app: what all of them use and none of them owns.

- `scoping` — tenant scope that fails closed (`TenantOwnedModel`, `TenantScopedManager`);
- `roles` — staff roles and the one role policy (which roles may do what);
- `access` — `staff_required`, the view decorator built on the policy;
- `http` — `safe_next` (where a form may send the browser back to);
- `ticks` — the registry of periodic jobs and their heartbeats;
- `events` — the timeline kinds and audit actions every writer uses;
- `startup` — checks a production process makes before it serves.

`core` imports Django and nothing of ours; everything else may import it.
"""
