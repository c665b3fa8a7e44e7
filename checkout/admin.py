"""Admin for checkout data. Orders, payments, refunds and webhook events are read-only here:
money and status change only through the checkout services, which admin actions call."""

import json
import re

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils.html import format_html

from checkout import webhooks
from checkout.models import (
    Cart,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    ShippingMethod,
    TaxRate,
    WebhookEvent,
)
from checkout.services.staff import astaff_cancel
from shop.exceptions import ShopError
from shop.money import format_money

ORDER_NUMBER = re.compile(r"NW\d+", re.IGNORECASE)

# Each selected row costs calls to Stripe and the inventory API within one request.
MAX_ROWS_PER_ACTION = 50


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """View-only: nothing can be added, changed or deleted, and every shown field is read-only."""

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return flatten_fieldsets(self.get_fieldsets(request, obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _too_many(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> bool:
    """Return True (and tell the user) if more rows are selected than one request should handle."""
    if queryset.count() <= MAX_ROWS_PER_ACTION:
        return False
    model_admin.message_user(
        request,
        f"Select at most {MAX_ROWS_PER_ACTION} at a time; nothing was done.",
        messages.ERROR,
    )
    return True


# Orders -------------------------------------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "product_title", "variant_label", "unit_price_display", "quantity", "line_total_display"]

    @admin.display(description="Unit price")
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.order.currency)

    @admin.display(description="Line total")
    def line_total_display(self, line: OrderLine) -> str:
        return format_money(line.line_total, line.order.currency)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("order")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["attempt", "payment_intent_id", "amount_display", "status", "last_error", "created_at"]
    show_change_link = True

    @admin.display(description="Amount")
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["stripe_refund_id", "amount_display", "status", "reason", "created_by", "created_at"]
    show_change_link = True

    @admin.display(description="Amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("created_by")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "message", "actor"]
    verbose_name = "event"
    verbose_name_plural = "timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Order)
class OrderAdmin(ReadOnlyModelAdmin):
    list_display = [
        "number",
        "created_at",
        "email",
        "status",
        "payment_status",
        "fulfilment_status",
        "total_display",
        "is_flagged",
    ]
    list_filter = ["status", "payment_status", "fulfilment_status", "is_flagged", "created_at", "country"]
    date_hierarchy = "created_at"
    search_fields = ["number", "email", "full_name"]
    search_help_text = "An order number (NW1042), a whole e-mail address, or part of a name."
    list_per_page = 50
    # The table may hold a million rows: no second COUNT(*) of the whole table.
    show_full_result_count = False
    inlines = [OrderLineInline, PaymentInline, RefundInline, OrderEventInline]
    actions = ["cancel_orders"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    ("status", "payment_status", "fulfilment_status"),
                    "cancel_reason",
                    "is_flagged",
                    "flag_reason",
                    "created_at",
                ]
            },
        ),
        ("Customer", {"fields": ["user", "email", "full_name", "phone"]}),
        ("Shipping address", {"fields": ["line1", "line2", "city", "postcode", "country"]}),
        (
            "Money",
            {
                "fields": [
                    "subtotal_display",
                    "shipping_display",
                    "tax_display",
                    "total_display",
                    "currency",
                    "tax_name",
                    "tax_rate",
                ]
            },
        ),
        (
            "Progress",
            {
                "fields": [
                    "paid_at",
                    "confirmation_sent_at",
                    "stock_committed_at",
                    "canceled_at",
                    "fulfilled_at",
                    "carrier",
                    "tracking_number",
                    "shipping_notice_sent_at",
                    "updated_at",
                ]
            },
        ),
        (
            "Technical",
            {
                "fields": [
                    "checkout_key",
                    "shipping_method_code",
                    "shipping_method_name",
                    "reservation_id",
                    "reservation_expires_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    @admin.display(description="Total", ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @admin.display(description="Subtotal")
    def subtotal_display(self, order: Order) -> str:
        return format_money(order.subtotal, order.currency)

    @admin.display(description="Shipping")
    def shipping_display(self, order: Order) -> str:
        return f"{format_money(order.shipping_total, order.currency)} ({order.shipping_method_name})"

    @admin.display(description="Tax")
    def tax_display(self, order: Order) -> str:
        return format_money(order.tax_total, order.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """Return the orders matching the term, by a lookup the table's indexes can answer where possible.

        A number or an e-mail address matches exactly (e-mail ignoring case); anything else is
        looked for within the customer's name.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.alias(email_lower=Lower("email")).filter(email_lower=term.lower()), False
        if ORDER_NUMBER.fullmatch(term):
            return queryset.filter(number=term.upper()), False
        return queryset.filter(full_name__icontains=term), False

    # Runs only from the changelist: a change-form action runs inside the form's transaction,
    # and the service must not wait on Stripe or the inventory API inside one.
    @admin.action(description="Cancel selected orders (refund if paid)", permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        if _too_many(self, request, queryset):
            return
        for order in queryset:
            was_paid = order.payment_status in (
                Order.PaymentStatus.PAID,
                Order.PaymentStatus.PARTIALLY_REFUNDED,
            )
            try:
                result = async_to_sync(astaff_cancel)(
                    order=order, reason="canceled from admin", actor_id=request.user.pk
                )
            except ShopError as error:
                self.message_user(request, self._cancel_failure(order, error), messages.ERROR)
                continue
            if result.status != Order.Status.CANCELED:
                # It moved on (e.g. was paid) between the list and the action.
                now = result.state_label.lower()
                self.message_user(
                    request, f"Order {order.number} was not canceled: it is {now} now.", messages.WARNING
                )
            elif was_paid:
                self.message_user(
                    request, f"Order {order.number} canceled and its payment refunded.", messages.SUCCESS
                )
            else:
                self.message_user(request, f"Order {order.number} canceled.", messages.SUCCESS)

    @staticmethod
    def _cancel_failure(order: Order, error: ShopError) -> str:
        """Return what to tell staff about a cancelation that raised `error`."""
        status = Order.objects.values_list("status", flat=True).get(pk=order.pk)
        if status == Order.Status.CANCELED and order.status != Order.Status.CANCELED:
            # A paid order is canceled first and refunded after; the service flagged it.
            return (
                f"Order {order.number} was canceled, but its refund failed: {error.staff_message} "
                "The order is flagged: refund it by hand in Stripe."
            )
        return f"Canceling order {order.number} failed: {error.staff_message} Nothing was changed."

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # The form is read-only for everyone; the change permission lets staff act through the services.
        return request.user.has_perm(f"{self.opts.app_label}.change_order")


# Payments and refunds ------------------------------------------------------------------------


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


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "price_display", "free_over_display", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}

    @admin.display(description="Price", ordering="price")
    def price_display(self, method: ShippingMethod) -> str:
        return format_money(method.price, method.currency)

    @admin.display(description="Free over", ordering="free_over")
    def free_over_display(self, method: ShippingMethod) -> str:
        return "—" if method.free_over is None else format_money(method.free_over, method.currency)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "name", "rate_display"]
    search_fields = ["country", "name"]

    @admin.display(description="Rate", ordering="rate")
    def rate_display(self, tax_rate: TaxRate) -> str:
        return f"{tax_rate.rate:.2%}"


@admin.register(Cart)
class CartAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "user", "version", "updated_at"]
    list_select_related = ["user"]
    ordering = ["-pk"]
    list_per_page = 50
    show_full_result_count = False
    fields = ["user", "version", "created_at", "updated_at"]
