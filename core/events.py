"""What can be written on a tenant's timeline and in the audit log: every writer names one of
these (tenants.services.timeline_record and audit_record refuse anything else), so the list
of what the product records is here, in one place, with a human label."""

from __future__ import annotations

from django.db import models


class TimelineKind(models.TextChoices):
    # tenants
    TENANT_CREATED = "tenant.created", "Tenant created"
    LIFECYCLE_CHANGED = "tenant.lifecycle_changed", "Lifecycle stage changed"
    TENANT_CHURNED = "tenant.churned", "Churned"
    CHURN_REASON = "tenant.churn_reason", "Churn reason recorded"
    TENANT_REACTIVATED = "tenant.reactivated", "Reactivated"
    SMS_CONSENT = "tenant.sms_consent", "SMS consent"
    TIMEZONE = "tenant.timezone", "Time zone changed"
    MEMBERSHIP_CREATED = "membership.created", "Teammate added"
    NOTE_ADDED = "tenant.note_added", "Note"
    CSM_ASSIGNED = "tenant.csm_assigned", "CSM assigned"
    # onboarding
    MILESTONE_COMPLETED = "onboarding.milestone_completed", "Milestone completed"
    ONBOARDING_COMPLETED = "onboarding.completed", "Onboarding completed"
    ONBOARDING_STALLED = "onboarding.stalled", "Onboarding stalled"
    # health
    HEALTH_BUCKET_CHANGED = "health.bucket_changed", "Health changed"
    # billing
    BILLING_CUSTOMER = "billing.customer", "Stripe customer"
    BILLING_CHECKOUT = "billing.checkout", "Checkout"
    BILLING_SUBSCRIPTION = "billing.subscription", "Subscription status"
    BILLING_PLAN = "billing.plan", "Plan changed"
    BILLING_PAID = "billing.paid", "Invoice paid"
    BILLING_PAYMENT_FAILED = "billing.payment_failed", "Payment failed"
    BILLING_ACTION_REQUIRED = "billing.payment_action_required", "Payment needs the owner"
    TRIAL_STARTED = "billing.trial_started", "Trial started"
    TRIAL_WILL_END = "billing.trial_will_end", "Trial ending"
    TRIAL_CONVERTED = "billing.trial_converted", "Trial converted"
    TRIAL_LAPSED = "billing.trial_lapsed", "Trial lapsed"
    TRIAL_STRIPE = "billing.trial_stripe", "Trial in Stripe"
    BILLING_CONTACTED = "billing.contacted", "Billing ops contacted the owner"
    DUNNING_PAUSED = "billing.dunning_paused", "Dunning paused"
    DUNNING_RESUMED = "billing.dunning_resumed", "Dunning resumed"
    BILLING_ESCALATED = "billing.escalated", "Escalated to the CSM"
    PORTAL_LINK_SENT = "billing.portal_link_sent", "Payment link sent again"
    # playbooks and touchpoints
    PLAYBOOK_STARTED = "playbook.started", "Playbook started"
    PLAYBOOK_CANCELLED = "playbook.cancelled", "Playbook cancelled"
    TOUCHPOINT_EMAIL = "touchpoint.email", "Email sent"
    TOUCHPOINT_SMS = "touchpoint.sms", "Text sent"
    TOUCHPOINT_TASK = "touchpoint.task", "CSM task created"
    TOUCHPOINT_IN_APP = "touchpoint.in_app", "In-app message shown"
    TOUCHPOINT_WEBHOOK = "touchpoint.webhook", "Webhook called"
    TOUCHPOINT_FAILED = "touchpoint.failed", "Touchpoint failed"
    TOUCHPOINT_NEEDS_REVIEW = "touchpoint.needs_review", "Touchpoint needs review"
    TOUCHPOINT_REVIEWED = "touchpoint.reviewed", "Touchpoint reviewed"
    TOUCHPOINTS_PAUSED = "touchpoints.paused", "Touchpoints paused"
    TOUCHPOINTS_RESUMED = "touchpoints.resumed", "Touchpoints resumed"
    TOUCHPOINTS_UNSUBSCRIBED = "touchpoints.unsubscribed", "Unsubscribed from email"
    SMS_OPTED_OUT = "sms.opted_out", "Replied STOP"
    SMS_OPTED_IN = "sms.opted_in", "Replied START"
    TASK_CREATED = "task.created", "Task created"
    TASK_COMPLETED = "task.completed", "Task completed"
    # QA workspace
    QA_REVIEWED = "qa.reviewed", "QA review"
    # alerts
    ALERT_OPENED = "alert.opened", "Alert opened"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "Alert acknowledged"
    ALERT_ASSIGNED = "alert.assigned", "Alert assigned"
    ALERT_SNOOZED = "alert.snoozed", "Alert snoozed"
    ALERT_SNOOZE_ENDED = "alert.snooze_ended", "Alert snooze ended"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"
    ALERT_SLA_BREACHED = "alert.sla_breached", "Alert past its SLA"


class AuditAction(models.TextChoices):
    # Django admin edits
    ADMIN_ADD = "admin.add", "Added in the Django admin"
    ADMIN_CHANGE = "admin.change", "Changed in the Django admin"
    ADMIN_DELETE = "admin.delete", "Deleted in the Django admin"
    # tenants and people
    TENANT_CREATE = "tenant.create", "Created a tenant"
    TENANT_VIEW = "tenant.view", "Viewed a tenant"
    TENANT_CHURN = "tenant.churn", "Marked a tenant churned"
    TENANT_CHURN_REASON = "tenant.churn_reason", "Recorded a churn reason"
    TENANT_REACTIVATE = "tenant.reactivate", "Reactivated a tenant"
    TENANT_SMS_CONSENT = "tenant.sms_consent", "Recorded SMS consent"
    TENANT_TIMEZONE = "tenant.timezone", "Changed a time zone"
    MEMBERSHIP_CREATE = "membership.create", "Added a teammate"
    NOTE_ADD = "note.add", "Added a note"
    TENANT_CSM = "tenant.csm_assign", "Assigned a CSM"
    NOTE_EDIT = "note.edit", "Edited a note"
    NOTE_PIN = "note.pin", "Pinned a note"
    NOTE_UNPIN = "note.unpin", "Unpinned a note"
    STAFF_CREATE = "staff.create", "Created a staff user"
    API_KEY_CREATE = "api_key.create", "Created an API key"
    API_KEY_REVOKE = "api_key.revoke", "Revoked an API key"
    # onboarding and health
    MILESTONE_COMPLETE = "onboarding.milestone_complete", "Completed a milestone"
    TEMPLATE_NEW_VERSION = "onboarding_template.new_version", "Made a new onboarding template version"
    TEMPLATE_REVISE = "onboarding_template.revise", "Revised an onboarding template"
    HEALTH_MODEL_CREATE = "health_model.create", "Drafted a health model"
    HEALTH_MODEL_PUBLISH = "health_model.publish", "Published a health model"
    # billing
    BILLING_CHECKOUT = "billing.checkout", "Started a checkout"
    BILLING_CONTACTED = "billing.contacted", "Contacted the owner"
    DUNNING_PAUSED = "billing.dunning_paused", "Paused dunning"
    DUNNING_RESUMED = "billing.dunning_resumed", "Resumed dunning"
    BILLING_ESCALATED = "billing.escalated", "Escalated to the CSM"
    PORTAL_LINK_SENT = "billing.portal_link_sent", "Sent the payment link again"
    # playbooks and touchpoints
    PLAYBOOK_ENABLE = "playbook.enable", "Enabled a playbook"
    PLAYBOOK_DISABLE = "playbook.disable", "Disabled a playbook"
    PLAYBOOK_VERSION_CREATE = "playbook.version_create", "Saved a playbook version"
    PLAYBOOK_START = "playbook.start", "Started a playbook"
    DELIVERY_MARK_SENT = "delivery.mark_sent", "Marked a send as sent"
    DELIVERY_MARK_NOT_SENT = "delivery.mark_not_sent", "Marked a send as not sent"
    DELIVERY_RESEND = "delivery.resend", "Sent a send again"
    TOUCHPOINTS_PAUSE = "touchpoints.pause", "Paused touchpoints"
    TOUCHPOINTS_RESUME = "touchpoints.resume", "Resumed touchpoints"
    TASK_CREATE = "task.create", "Created a task"
    TASK_COMPLETE = "task.complete", "Completed a task"
    # knowledge base
    ARTICLE_CREATE = "article.create", "Wrote a knowledge article"
    ARTICLE_EDIT = "article.edit", "Edited a knowledge article"
    # QA workspace
    QA_REVIEW = "qa.review", "Reviewed an interaction"
    QA_ACTION_ITEM = "qa.action_item", "Added a QA action item"
    # alerts
    ALERT_OPEN = "alert.open", "Opened an alert"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "Acknowledged an alert"
    ALERT_ASSIGNED = "alert.assigned", "Assigned an alert"
    ALERT_SNOOZED = "alert.snoozed", "Snoozed an alert"
    ALERT_SNOOZE_END = "alert.snooze_end", "An alert's snooze ended"
    ALERT_RESOLVED = "alert.resolved", "Resolved an alert"
    ALERT_AUTO_RESOLVE = "alert.auto_resolve", "An alert resolved itself"
    ALERT_SLA_BREACH = "alert.sla_breach", "An alert passed its SLA"
    ALERT_RULE_UPDATE = "alert_rule.update", "Changed an escalation rule"
