"""Orders in the Django admin: read-only, with cancel and replay actions calling the services."""

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest

from checkout.admin.base import ORDER_NUMBER, ReadOnlyInline, ReadOnlyModelAdmin, _too_many
from checkout.models import (
    Order,
    OrderDiscount,
    OrderEvent,
    OrderLine,
    OrderTax,
    Payment,
    Refund,
)
from checkout.services.staff import astaff_cancel
from shop.exceptions import ShopError
from shop.money import format_money


class _OrderMoneyInline(ReadOnlyInline):
    """Rows of an order shown with their net and tax as money, in the order's currency."""

    @admin.display(description="Net")
    def net_display(self, row) -> str:
        return format_money(row.net, row.order.currency)

    @admin.display(description="Tax")
    def tax_display(self, row) -> str:
        return format_money(row.tax, row.order.currency)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("order")


class OrderLineInline(_OrderMoneyInline):
    model = OrderLine
    fields = [
        "sku",
        "product_title",
        "variant_label",
        "unit_price_display",
        "list_price_display",
        "quantity",
        "line_total_display",
        "net_display",
        "tax_rate",
        "tax_display",
    ]

    @admin.display(description="Unit price")
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.order.currency)

    @admin.display(description="List price (before a sale)")
    def list_price_display(self, line: OrderLine) -> str:
        return format_money(line.list_price, line.order.currency)

    @admin.display(description="Line total")
    def line_total_display(self, line: OrderLine) -> str:
        return format_money(line.line_total, line.order.currency)


class OrderTaxInline(_OrderMoneyInline):
    model = OrderTax
    fields = ["rate", "net_display", "tax_display"]
    verbose_name = "tax at one rate"
    verbose_name_plural = "tax per rate (goods and delivery)"


class OrderDiscountInline(ReadOnlyInline):
    model = OrderDiscount
    fields = ["kind", "name", "code", "amount_display", "delivery_display"]
    verbose_name = "discount"

    @admin.display(description="Taken off")
    def amount_display(self, row: OrderDiscount) -> str:
        return format_money(row.amount, row.order.currency)

    @admin.display(description="Of which delivery")
    def delivery_display(self, row: OrderDiscount) -> str:
        return format_money(row.delivery, row.order.currency)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
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
    inlines = [
        OrderLineInline,
        OrderTaxInline,
        OrderDiscountInline,
        PaymentInline,
        RefundInline,
        OrderEventInline,
    ]
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
                    "prices_include_tax",
                    "tax_name",
                    "discount_display",
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

    @admin.display(description="Subtotal (net)")
    def subtotal_display(self, order: Order) -> str:
        return format_money(order.subtotal, order.currency)

    @admin.display(description="Delivery (net + tax)")
    def shipping_display(self, order: Order) -> str:
        net, tax = (
            format_money(order.shipping_total, order.currency),
            format_money(order.shipping_tax, order.currency),
        )
        return f"{net} + {tax} ({order.shipping_method_name})"

    @admin.display(description="Discount")
    def discount_display(self, order: Order) -> str:
        return format_money(order.discount_total, order.currency)

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
