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
from checkout.models import Order, OrderLine, Payment, Refund

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
    rows = first_rows(
        Order.objects.annotate(lines_total=sum_by_order(OrderLine.objects.all(), "line_total"))
        .annotate(has_lines=Exists(OrderLine.objects.filter(order=OuterRef("pk"))))
        .filter(Q(has_lines=False) | ~Q(subtotal=F("lines_total")))
        .order_by("pk")
    )
    for order in rows:
        if not order.has_lines:
            yield f"Order {order.number} has no lines."
        else:
            yield (
                f"Order {order.number}'s subtotal {money_text(order.subtotal, order.currency)} is not "
                f"the sum of its lines, {money_text(order.lines_total, order.currency)}."
            )
