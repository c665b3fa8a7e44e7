"""The audit's checks of money: payments, refunds and order totals."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from checkout.audit_rules import (
    LIVE_REFUND,
    PAY,
    WAS_PAID,
    first_rows,
    money_text,
    received_amount,
    state_text,
    sum_by_order,
)
from checkout.models import Order, OrderLine, OrderTax, Payment, Refund

# Money ------------------------------------------------------------------------------


def check_refunds_within_payments() -> Iterable[str]:
    refunded = Refund.objects.filter(payment=OuterRef("pk"), status__in=LIVE_REFUND)
    payments = first_rows(
        Payment.objects.annotate(
            received=received_amount(),
            refunded=Coalesce(
                Subquery(
                    refunded.values("payment").annotate(total=Sum("amount")).values("total"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            foreign_refunds=Exists(
                Refund.objects.filter(payment=OuterRef("pk")).filter(
                    ~Q(order=OuterRef("order")) | ~Q(currency=OuterRef("currency"))
                )
            ),
        )
        .filter(
            Q(refunded__gt=F("received"))
            | (Q(refunded__gt=0) & ~Q(status=Payment.Status.SUCCEEDED))
            | Q(foreign_refunds=True)
        )
        .select_related("order")
        .order_by("pk")
    )
    for payment in payments:
        where = f"Payment {payment.payment_intent_id} of order {payment.order.number}"
        if payment.foreign_refunds:
            yield f"{where} has refunds recorded for another order or in another currency."
        if payment.refunded and payment.status != Payment.Status.SUCCEEDED:
            refunded = money_text(payment.refunded, payment.currency)
            yield f"{where} is {payment.status}, yet {refunded} was refunded."
        elif payment.refunded > payment.received:
            yield (
                f"{where}: {money_text(payment.refunded, payment.currency)} refunded of "
                f"{money_text(payment.received, payment.currency)} paid."
            )


def check_money_kept_matches_status() -> Iterable[str]:
    orders = (
        Order.objects.annotate(
            received=sum_by_order(Payment.objects.filter(status=Payment.Status.SUCCEEDED), received_amount()),
            refunded=sum_by_order(Refund.objects.filter(status__in=LIVE_REFUND), "amount"),
        )
        .annotate(kept=F("received") - F("refunded"))
        .filter(Q(received__gt=0) | Q(refunded__gt=0) | WAS_PAID)
    )
    wrong = (
        (Q(status=Order.Status.CANCELED) & ~Q(kept=0))
        | (Q(payment_status=PAY.PAID) & ~Q(kept=F("total")))
        | (Q(payment_status=PAY.PARTIALLY_REFUNDED) & (Q(kept__lte=0) | Q(kept__gte=F("total"))))
        | (Q(payment_status__in=[PAY.REFUNDED, PAY.VOIDED, PAY.AWAITING]) & ~Q(kept=0))
    )
    for order in first_rows(orders.filter(wrong).order_by("pk")):
        yield (
            f"Order {order.number} is {state_text(order.status, order.payment_status)} for "
            f"{money_text(order.total, order.currency)}, but keeps {money_text(order.kept, order.currency)} "
            f"({money_text(order.received, order.currency)} received, "
            f"{money_text(order.refunded, order.currency)} refunded)."
        )


def check_order_totals() -> Iterable[str]:
    """Yield each order whose lines, delivery and tax do not add up to what it charges: its net
    subtotal is its lines' net, its tax is its lines' tax plus the delivery's, and its tax per
    rate (OrderTax) adds up to its tax on its net goods and delivery. (total = subtotal +
    shipping_total + tax_total is a database constraint.)"""
    rows = first_rows(
        Order.objects.annotate(
            lines_net=sum_by_order(OrderLine.objects.all(), "net"),
            lines_tax=sum_by_order(OrderLine.objects.all(), "tax"),
            rates_net=sum_by_order(OrderTax.objects.all(), "net"),
            rates_tax=sum_by_order(OrderTax.objects.all(), "tax"),
            has_lines=Exists(OrderLine.objects.filter(order=OuterRef("pk"))),
            has_rates=Exists(OrderTax.objects.filter(order=OuterRef("pk"))),
        )
        .filter(
            Q(has_lines=False)
            | ~Q(subtotal=F("lines_net"))
            | ~Q(tax_total=F("lines_tax") + F("shipping_tax"))
            | ~Q(rates_tax=F("tax_total"))
            | Q(has_rates=True) & ~Q(rates_net=F("subtotal") + F("shipping_total"))
        )
        .order_by("pk")
    )
    for order in rows:
        yield _order_totals_problem(order)


def _order_totals_problem(order: Order) -> str:
    def money(amount: int) -> str:
        return money_text(amount, order.currency)

    if not order.has_lines:
        return f"Order {order.number} has no lines."
    if order.subtotal != order.lines_net:
        return (
            f"Order {order.number}'s subtotal {money(order.subtotal)} is not the sum of its lines' net, "
            f"{money(order.lines_net)}."
        )
    if order.tax_total != order.lines_tax + order.shipping_tax:
        return (
            f"Order {order.number}'s tax {money(order.tax_total)} is not its lines' tax "
            f"{money(order.lines_tax)} plus the delivery's {money(order.shipping_tax)}."
        )
    if order.rates_tax != order.tax_total:
        return (
            f"Order {order.number}'s tax per rate adds up to {money(order.rates_tax)}, "
            f"not its tax {money(order.tax_total)}."
        )
    return (
        f"Order {order.number}'s tax per rate was charged on {money(order.rates_net)}, "
        f"not on its net goods and delivery {money(order.subtotal + order.shipping_total)}."
    )
