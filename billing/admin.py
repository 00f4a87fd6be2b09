"""The Stripe mirror in Django admin: to look, not to edit. Stripe is the source of truth and
the webhooks write the mirror; an edit here would be overwritten by the next event, or worse,
hide one. Billing ops act in the past-due queue, where every action is audited."""

from django.contrib import admin
from django.http import HttpRequest

from .models import Customer, Invoice, StripeEvent, Subscription, SubscriptionChange, Trial


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "created", "outcome", "tenant", "received_at"]
    list_filter = ["outcome", "type"]
    search_fields = ["event_id", "tenant__external_id"]


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "tenant", "email", "card_brand", "card_last4", "card_exp_month", "card_exp_year"]
    search_fields = ["stripe_id", "email", "tenant__external_id"]


class ChangeInline(admin.TabularInline):
    model = SubscriptionChange
    fields = ["at", "kind", "status", "price_id", "quantity", "list_mrr_cents", "cancel_at_period_end"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "tenant", "status", "plan", "mrr_cents", "past_due_since", "state_at"]
    list_filter = ["status", "plan"]
    search_fields = ["stripe_id", "stripe_customer_id", "tenant__external_id"]
    inlines = [ChangeInline]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "tenant", "status", "amount_due_cents", "attempt_count", "next_payment_attempt"]
    list_filter = ["status"]
    search_fields = ["stripe_id", "tenant__external_id"]


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "plan", "started_at", "ends_at", "status", "stripe_subscription_id", "stripe_error"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__external_id", "stripe_subscription_id"]
