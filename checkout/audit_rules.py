"""What the audit's checks share: the order states they group, and their small query helpers."""

from __future__ import annotations

from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, NullIf

from checkout.models import Order, Payment, Refund
from inventory.models import Reservation
from shop.money import format_money

PAY = Order.PaymentStatus
#: Orders that were paid and not canceled (a refunded order was paid, then given its money back).
WAS_PAID = Q(payment_status__in=[PAY.PAID, PAY.PARTIALLY_REFUNDED, PAY.REFUNDED]) & ~Q(
    status=Order.Status.CANCELED
)
#: Paid orders whose goods are (or were) sent: their stock must be committed.
KEEPS_STOCK = Q(payment_status__in=[PAY.PAID, PAY.PARTIALLY_REFUNDED]) & ~Q(status=Order.Status.CANCELED)
#: Orders not canceled that were never paid (a payment that did not match leaves one so).
UNPAID = Q(payment_status=PAY.AWAITING) & ~Q(status=Order.Status.CANCELED)


def state_text(status: str, payment_status: str) -> str:
    """Return how an order's state reads in a finding: "canceled", or its payment status."""
    if status == Order.Status.CANCELED:
        return "canceled"
    return Order.PaymentStatus(payment_status).label.lower()


#: Reservation statuses whose units were never taken out of stock.
NOT_TAKEN = (Reservation.Status.HELD, Reservation.Status.RELEASED, Reservation.Status.EXPIRED)
LIVE_REFUND = (Refund.Status.PENDING, Refund.Status.SUCCEEDED)
LIVE_PAYMENT = (
    Payment.Status.REQUIRES_PAYMENT_METHOD,
    Payment.Status.REQUIRES_CONFIRMATION,
    Payment.Status.REQUIRES_ACTION,
    Payment.Status.PROCESSING,
)

#: Problems listed per check; a check with more says so.
PROBLEMS_SHOWN = 50


def first_rows[T](queryset: QuerySet[T]) -> list[T]:
    """Return at most one more row than is shown, enough to tell that there are more."""
    return list(queryset[: PROBLEMS_SHOWN + 1])


def money_text(amount: int | None, currency: str) -> str:
    return format_money(amount or 0, currency)


def received_amount() -> Case:
    """Return what Stripe received for a payment; a row that never recorded it counts what was asked."""
    return Case(When(amount_received=0, then=F("amount")), default=F("amount_received"))


def sum_by_order(queryset: QuerySet, field: str | Case) -> Coalesce:
    """Return a subquery expression: the sum of `field` over `queryset` rows of the outer order."""
    total = queryset.filter(order=OuterRef("pk")).values("order").annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def orders_with_reservation() -> QuerySet[Order]:
    """Return orders annotated with their current reservation's id as a UUID (None when they have none)."""
    return Order.objects.annotate(
        reservation_uuid=Cast(NullIf("reservation_id", Value("")), output_field=UUIDField())
    )


def reservations_of_order() -> QuerySet[Reservation]:
    """Return the reservations made for the outer order (its reference is `order-<number>`)."""
    return Reservation.objects.filter(reference=Concat(Value("order-"), OuterRef("number")))
