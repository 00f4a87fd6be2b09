"""The lifecycle after onboarding (issue 16): renewals first — a contract end date per tenant
and the 120-day runway of CSM tasks before it."""
