"""Payments, refunds, webhook events and carts in the Django admin."""

import json

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from checkout import webhooks
from checkout.admin.base import ReadOnlyModelAdmin, _too_many
from checkout.models import (
    Cart,
    Payment,
    Refund,
    WebhookEvent,
)
from shop.exceptions import ShopError
from shop.money import format_money


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    list_display = ["payment_intent_id", "order", "attempt", "amount_display", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["order"]
    search_fields = ["payment_intent_id", "order__number"]
    search_help_text = "A PaymentIntent id (pi_…) or an order number."
    ordering = ["-pk"]
    list_per_page = 50
    show_full_result_count = False
    fields = [
        "order",
        "attempt",
        "payment_intent_id",
        "amount_display",
        "currency",
        "status",
        "last_error",
        "customer_id",
        "setup_intent_id",
        "confirmed_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        """Return the payments whose PaymentIntent id or order number is exactly the term."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(payment_intent_id=term) | Q(order__number=term.upper())), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "order", "amount_display", "status", "reason", "created_by", "created_at"]
    list_filter = ["status"]
    list_select_related = ["order", "created_by"]
    search_fields = ["stripe_refund_id", "order__number"]
    search_help_text = "A Stripe refund id (re_…) or an order number."
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    fields = [
        "order",
        "payment",
        "stripe_refund_id",
        "amount_display",
        "currency",
        "status",
        "reason",
        "created_by",
        "request_key",
        "created_at",
    ]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Refund], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        """Return the refunds whose Stripe id or order number is exactly the term."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(stripe_refund_id=term) | Q(order__number=term.upper())), False


# Webhook events ------------------------------------------------------------------------------


class FailedFilter(admin.SimpleListFilter):
    title = "failed"
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return [("yes", "Failed"), ("no", "Not failed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(error="")
        if self.value() == "no":
            return queryset.filter(error="")
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyModelAdmin):
    list_display = ["type", "stripe_event_id", "received_at", "processed_at", "attempts", "has_error"]
    list_filter = ["type", FailedFilter]
    search_fields = ["stripe_event_id", "type"]
    search_help_text = "A Stripe event id (evt_…) or an exact event type."
    date_hierarchy = "received_at"
    list_per_page = 50
    show_full_result_count = False
    actions = ["replay_events"]
    fields = [
        "stripe_event_id",
        "type",
        "received_at",
        "processing_started_at",
        "processed_at",
        "attempts",
        "outcome",
        "error",
        "payload_pretty",
    ]

    @admin.display(description="Error", boolean=True)
    def has_error(self, event: WebhookEvent) -> bool:
        return bool(event.error)

    @admin.display(description="Payload")
    def payload_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookEvent], search_term: str
    ) -> tuple[QuerySet[WebhookEvent], bool]:
        """Return the events whose Stripe id or type is exactly the term."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(stripe_event_id=term) | Q(type=term)), False

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        if _too_many(self, request, queryset):
            return
        for event in queryset:
            try:
                outcome = async_to_sync(webhooks.aevent_apply)(event, force=True)
            except ShopError as error:
                self.message_user(
                    request,
                    f"Replaying {event} failed again: {error.staff_message} The event stays marked failed.",
                    messages.ERROR,
                )
            else:
                self.message_user(request, f"{event}: {outcome}", messages.SUCCESS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_webhookevent")


# Configuration and carts ---------------------------------------------------------------------


@admin.register(Cart)
class CartAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "user", "version", "updated_at"]
    list_select_related = ["user"]
    ordering = ["-pk"]
    list_per_page = 50
    show_full_result_count = False
    fields = ["user", "version", "created_at", "updated_at"]
