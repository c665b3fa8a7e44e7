"""The audit's checks of stock, and of orders against their stock and reservations."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Substr

from checkout.audit_rules import (
    KEEPS_STOCK,
    LIVE_PAYMENT,
    LIVE_REFUND,
    NOT_TAKEN,
    PAY,
    UNPAID,
    WAS_PAID,
    first_rows,
    money_text,
    orders_with_reservation,
    received_amount,
    reservations_of_order,
    state_text,
)
from checkout.models import Order, OrderLine, Payment, Refund
from inventory.models import Reservation, ReservationLine
from inventory.selectors import stock_allocated_unlike_holds, stock_out_of_bounds

# Stock --------------------------------------------------------------------------------


def check_stock_bounds() -> Iterable[str]:
    for stock in first_rows(stock_out_of_bounds()):
        yield f"SKU {stock.variant.sku}: on hand {stock.on_hand}, allocated {stock.allocated}."


def check_stock_allocated_equals_holds() -> Iterable[str]:
    for stock in first_rows(stock_allocated_unlike_holds()):
        yield (
            f"SKU {stock.variant.sku}: {stock.allocated} allocated, but held reservations hold {stock.held}."
        )


# Orders and their stock -----------------------------------------------------------------


def check_paid_orders_have_their_payment() -> Iterable[str]:
    matching = Payment.objects.alias(received=received_amount()).filter(
        order=OuterRef("pk"),
        status=Payment.Status.SUCCEEDED,
        amount=OuterRef("total"),
        received=OuterRef("total"),
        currency=OuterRef("currency"),
    )
    rows = first_rows(
        Order.objects.filter(WAS_PAID)
        .annotate(has_matching=Exists(matching))
        .filter(Q(has_matching=False) | Q(paid_at__isnull=True))
        .order_by("pk")
    )
    for order in rows:
        if not order.has_matching:
            yield (
                f"Order {order.number} is {state_text(order.status, order.payment_status)} "
                "but has no succeeded payment "
                f"of its total {money_text(order.total, order.currency)}."
            )
        else:
            state = state_text(order.status, order.payment_status)
            yield f"Order {order.number} is {state} but has no payment time."


def check_paid_orders_have_their_stock() -> Iterable[str]:
    current = Reservation.objects.filter(pk=OuterRef("reservation_uuid"))
    rows = first_rows(
        orders_with_reservation()
        .annotate(
            reservation_status=Subquery(current.values("status")[:1]),
            committed_count=Subquery(
                reservations_of_order()
                .filter(status__in=[Reservation.Status.COMMITTED, Reservation.Status.RETURNED])
                .values("reference")
                .annotate(count=Count("pk"))
                .values("count"),
                output_field=IntegerField(),
            ),
        )
        .filter(
            (
                KEEPS_STOCK
                & (
                    Q(stock_committed_at__isnull=True)
                    | Q(reservation_status__isnull=True)
                    | ~Q(reservation_status=Reservation.Status.COMMITTED)
                )
            )
            | (
                Q(stock_committed_at__isnull=False)
                & (Q(reservation_status__isnull=True) | Q(reservation_status__in=NOT_TAKEN))
            )
            | Q(committed_count__gt=1)
        )
        .order_by("pk")
    )
    for order in rows:
        status = state_text(order.status, order.payment_status)
        keeps_stock = order.payment_status in (PAY.PAID, PAY.PARTIALLY_REFUNDED)
        reservation = (
            f"reservation {order.reservation_id or '(none)'}: {order.reservation_status or 'missing'}"
        )
        if (order.committed_count or 0) > 1:
            yield f"Order {order.number} took its stock {order.committed_count} times (several reservations)."
        elif keeps_stock and order.stock_committed_at is None:
            yield f"Order {order.number} is {status} but its stock commit is not recorded ({reservation})."
        elif keeps_stock and order.reservation_status != Reservation.Status.COMMITTED:
            yield f"Order {order.number} is {status} but its stock is not committed ({reservation})."
        else:
            yield f"Order {order.number} records its stock as committed, but it is not ({reservation})."


def check_committed_stock_belongs_to_paid_orders() -> Iterable[str]:
    orders = Order.objects.filter(number=OuterRef("order_number"))
    rows = first_rows(
        Reservation.objects.filter(status=Reservation.Status.COMMITTED, reference__startswith="order-")
        .annotate(order_number=Substr("reference", len("order-") + 1))
        .annotate(
            order_status=Subquery(orders.values("status")[:1]),
            order_payment=Subquery(orders.values("payment_status")[:1]),
            order_was_paid=Exists(orders.filter(WAS_PAID)),
        )
        .filter(order_status__isnull=False, order_was_paid=False)
        .order_by("created_at")
    )
    for reservation in rows:
        yield (
            f"Reservation {reservation.pk} committed stock for order {reservation.order_number}, "
            f"which is {state_text(reservation.order_status, reservation.order_payment)}."
        )


def check_reservations_match_orders() -> Iterable[str]:
    reservation_lines = ReservationLine.objects.filter(reservation=OuterRef("reservation_uuid"))
    line_not_reserved = OrderLine.objects.filter(order=OuterRef("pk")).exclude(
        Exists(
            ReservationLine.objects.filter(
                reservation=OuterRef(OuterRef("reservation_uuid")),
                sku=OuterRef("sku"),
                quantity=OuterRef("quantity"),
            )
        )
    )
    rows = first_rows(
        orders_with_reservation()
        .filter(reservation_uuid__isnull=False)
        .annotate(
            order_lines=Coalesce(
                Subquery(
                    OrderLine.objects.filter(order=OuterRef("pk"))
                    .values("order")
                    .annotate(count=Count("pk"))
                    .values("count"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            reserved_lines=Coalesce(
                Subquery(
                    reservation_lines.values("reservation").annotate(count=Count("pk")).values("count"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            has_unreserved_line=Exists(line_not_reserved),
            reservation_exists=Exists(Reservation.objects.filter(pk=OuterRef("reservation_uuid"))),
        )
        .filter(
            Q(reservation_exists=False) | Q(has_unreserved_line=True) | ~Q(reserved_lines=F("order_lines"))
        )
        .order_by("pk")
    )
    for order in rows:
        if not order.reservation_exists:
            yield f"Order {order.number}'s reservation {order.reservation_id} does not exist."
        else:
            yield (
                f"Order {order.number}'s reservation {order.reservation_id} does not hold exactly "
                "the order's lines."
            )


def check_unpaid_orders_charge_nothing() -> Iterable[str]:
    current = Reservation.objects.filter(pk=OuterRef("reservation_uuid"))
    rows = first_rows(
        orders_with_reservation()
        .filter(UNPAID)
        .annotate(
            reservation_status=Subquery(current.values("status")[:1]),
            # A payment that did not match its order leaves it unpaid: staff give it back in full.
            succeeded=Exists(payments_keeping_money().filter(order=OuterRef("pk"))),
            refunded=Exists(
                Refund.objects.filter(order=OuterRef("pk")).exclude(payment__status=Payment.Status.SUCCEEDED)
            ),
        )
        .filter(
            Q(succeeded=True)
            | Q(refunded=True)
            | Q(reservation_status__in=[Reservation.Status.RELEASED, Reservation.Status.RETURNED])
        )
        .order_by("pk")
    )
    for order in rows:
        if order.succeeded:
            yield f"Order {order.number} awaits payment, but a payment for it succeeded."
        if order.refunded:
            yield f"Order {order.number} awaits payment, but has refunds of payments that never succeeded."
        if order.reservation_status in (Reservation.Status.RELEASED, Reservation.Status.RETURNED):
            yield (
                f"Order {order.number} awaits payment, but its reservation {order.reservation_id} "
                f"was {order.reservation_status}: its stock is not held."
            )


def payments_keeping_money() -> QuerySet[Payment]:
    """Return succeeded payments of which less than Stripe received has been refunded."""
    refunded = Refund.objects.filter(payment=OuterRef("pk"), status__in=LIVE_REFUND)
    return (
        Payment.objects.filter(status=Payment.Status.SUCCEEDED)
        .alias(received=received_amount())
        .filter(
            received__gt=Coalesce(
                Subquery(
                    refunded.values("payment").annotate(total=Sum("amount")).values("total"),
                    output_field=IntegerField(),
                ),
                0,
            )
        )
    )


def check_canceled_orders_hold_nothing() -> Iterable[str]:
    rows = first_rows(
        Order.objects.filter(status=Order.Status.CANCELED)
        .annotate(
            holds_stock=Exists(reservations_of_order().filter(status=Reservation.Status.HELD)),
            live_payments=Subquery(
                Payment.objects.filter(order=OuterRef("pk"), status__in=LIVE_PAYMENT)
                .values("order")
                .annotate(count=Count("pk"))
                .values("count"),
                output_field=IntegerField(),
            ),
        )
        .filter(Q(holds_stock=True) | Q(live_payments__gt=0))
        .order_by("pk")
    )
    for order in rows:
        if order.holds_stock:
            yield f"Canceled order {order.number} still holds stock (a held reservation)."
        if order.live_payments:
            yield (
                f"Canceled order {order.number} has {order.live_payments} payment(s) that were never "
                "canceled and could still be confirmed."
            )
