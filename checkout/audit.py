"""The shop's invariants, read from the database: what must hold for orders, payments,
refunds and stock whatever happened in between (outages, retries, races, staff actions).

`audit_run()` returns one result per check with the problems it found. Each check
is a few set-based queries, so the audit stays cheap on a large shop; it changes
nothing. The rules follow the services: held reservations' units are in
`Stock.allocated`; committing takes them out of `on_hand` and `allocated`; an
order is paid by one succeeded payment of its total; refunds never exceed what
was paid; a canceled order keeps neither money nor stock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
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
from django.db.models.functions import Cast, Coalesce, Concat, NullIf, Substr

from checkout.models import Order, OrderLine, Payment, Refund
from inventory.models import Reservation, ReservationLine
from inventory.selectors import stock_allocated_unlike_holds, stock_out_of_bounds
from shop.money import format_money

_P = Order.PaymentStatus
#: Orders that were paid and not canceled (a refunded order was paid, then given its money back).
WAS_PAID = Q(payment_status__in=[_P.PAID, _P.PARTIALLY_REFUNDED, _P.REFUNDED]) & ~Q(
    status=Order.Status.CANCELED
)
#: Paid orders whose goods are (or were) sent: their stock must be committed.
KEEPS_STOCK = Q(payment_status__in=[_P.PAID, _P.PARTIALLY_REFUNDED]) & ~Q(status=Order.Status.CANCELED)
#: Orders not canceled that were never paid (a payment that did not match leaves one so).
UNPAID = Q(payment_status=_P.AWAITING) & ~Q(status=Order.Status.CANCELED)


def _state(status: str, payment_status: str) -> str:
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


@dataclass(frozen=True)
class CheckResult:
    name: str
    rule: str
    problems: list[str]
    has_more: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AuditReport:
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    def text(self) -> str:
        """Return the report as plain text: each failed check with its problems, then a summary."""
        if self.passed:
            return f"All {len(self.results)} checks passed."
        lines = []
        for result in self.failed:
            lines.append(f"FAILED {result.name}: {result.rule}")
            lines.extend(f"  - {problem}" for problem in result.problems)
            if result.has_more:
                lines.append(f"  - … and more (only the first {len(result.problems)} are listed)")
        passed = len(self.results) - len(self.failed)
        lines.append(f"{len(self.failed)} of {len(self.results)} checks failed ({passed} passed).")
        return "\n".join(lines)


def audit_run() -> AuditReport:
    """Run every check and return the report."""
    results = []
    for name, rule, check in CHECKS:
        problems = list(check())
        results.append(
            CheckResult(
                name=name,
                rule=rule,
                problems=problems[:PROBLEMS_SHOWN],
                has_more=len(problems) > PROBLEMS_SHOWN,
            )
        )
    return AuditReport(results=results)


def _first[T](queryset: QuerySet[T]) -> list[T]:
    """Return at most one more row than is shown, enough to tell that there are more."""
    return list(queryset[: PROBLEMS_SHOWN + 1])


def _money(amount: int | None, currency: str) -> str:
    return format_money(amount or 0, currency)


def _received() -> Case:
    """Return what Stripe received for a payment; a row that never recorded it counts what was asked."""
    return Case(When(amount_received=0, then=F("amount")), default=F("amount_received"))


def _sum_by_order(queryset: QuerySet, field: str | Case) -> Coalesce:
    """Return a subquery expression: the sum of `field` over `queryset` rows of the outer order."""
    total = queryset.filter(order=OuterRef("pk")).values("order").annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def _orders_with_reservation() -> QuerySet[Order]:
    """Return orders annotated with their current reservation's id as a UUID (None when they have none)."""
    return Order.objects.annotate(
        reservation_uuid=Cast(NullIf("reservation_id", Value("")), output_field=UUIDField())
    )


def _reservations_of_order() -> QuerySet[Reservation]:
    """Return the reservations made for the outer order (its reference is `order-<number>`)."""
    return Reservation.objects.filter(reference=Concat(Value("order-"), OuterRef("number")))


# Stock --------------------------------------------------------------------------------


def check_stock_bounds() -> Iterable[str]:
    for stock in _first(stock_out_of_bounds()):
        yield f"SKU {stock.variant.sku}: on hand {stock.on_hand}, allocated {stock.allocated}."


def check_stock_allocated_equals_holds() -> Iterable[str]:
    for stock in _first(stock_allocated_unlike_holds()):
        yield (
            f"SKU {stock.variant.sku}: {stock.allocated} allocated, but held reservations hold {stock.held}."
        )


# Orders and their stock -----------------------------------------------------------------


def check_paid_orders_have_their_payment() -> Iterable[str]:
    matching = Payment.objects.alias(received=_received()).filter(
        order=OuterRef("pk"),
        status=Payment.Status.SUCCEEDED,
        amount=OuterRef("total"),
        received=OuterRef("total"),
        currency=OuterRef("currency"),
    )
    rows = _first(
        Order.objects.filter(WAS_PAID)
        .annotate(has_matching=Exists(matching))
        .filter(Q(has_matching=False) | Q(paid_at__isnull=True))
        .order_by("pk")
    )
    for order in rows:
        if not order.has_matching:
            yield (
                f"Order {order.number} is {_state(order.status, order.payment_status)} "
                "but has no succeeded payment "
                f"of its total {_money(order.total, order.currency)}."
            )
        else:
            state = _state(order.status, order.payment_status)
            yield f"Order {order.number} is {state} but has no payment time."


def check_paid_orders_have_their_stock() -> Iterable[str]:
    current = Reservation.objects.filter(pk=OuterRef("reservation_uuid"))
    rows = _first(
        _orders_with_reservation()
        .annotate(
            reservation_status=Subquery(current.values("status")[:1]),
            committed_count=Subquery(
                _reservations_of_order()
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
        status = _state(order.status, order.payment_status)
        keeps_stock = order.payment_status in (_P.PAID, _P.PARTIALLY_REFUNDED)
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
    rows = _first(
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
            f"which is {_state(reservation.order_status, reservation.order_payment)}."
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
    rows = _first(
        _orders_with_reservation()
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
    rows = _first(
        _orders_with_reservation()
        .filter(UNPAID)
        .annotate(
            reservation_status=Subquery(current.values("status")[:1]),
            # A payment that did not match its order leaves it unpaid: staff give it back in full.
            succeeded=Exists(_payments_keeping_money().filter(order=OuterRef("pk"))),
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


def _payments_keeping_money() -> QuerySet[Payment]:
    """Return succeeded payments of which less than Stripe received has been refunded."""
    refunded = Refund.objects.filter(payment=OuterRef("pk"), status__in=LIVE_REFUND)
    return (
        Payment.objects.filter(status=Payment.Status.SUCCEEDED)
        .alias(received=_received())
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
    rows = _first(
        Order.objects.filter(status=Order.Status.CANCELED)
        .annotate(
            holds_stock=Exists(_reservations_of_order().filter(status=Reservation.Status.HELD)),
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


# Money ------------------------------------------------------------------------------


def check_refunds_within_payments() -> Iterable[str]:
    refunded = Refund.objects.filter(payment=OuterRef("pk"), status__in=LIVE_REFUND)
    payments = _first(
        Payment.objects.annotate(
            received=_received(),
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
            refunded = _money(payment.refunded, payment.currency)
            yield f"{where} is {payment.status}, yet {refunded} was refunded."
        elif payment.refunded > payment.received:
            yield (
                f"{where}: {_money(payment.refunded, payment.currency)} refunded of "
                f"{_money(payment.received, payment.currency)} paid."
            )


def check_money_kept_matches_status() -> Iterable[str]:
    orders = (
        Order.objects.annotate(
            received=_sum_by_order(Payment.objects.filter(status=Payment.Status.SUCCEEDED), _received()),
            refunded=_sum_by_order(Refund.objects.filter(status__in=LIVE_REFUND), "amount"),
        )
        .annotate(kept=F("received") - F("refunded"))
        .filter(Q(received__gt=0) | Q(refunded__gt=0) | WAS_PAID)
    )
    wrong = (
        (Q(status=Order.Status.CANCELED) & ~Q(kept=0))
        | (Q(payment_status=_P.PAID) & ~Q(kept=F("total")))
        | (Q(payment_status=_P.PARTIALLY_REFUNDED) & (Q(kept__lte=0) | Q(kept__gte=F("total"))))
        | (Q(payment_status__in=[_P.REFUNDED, _P.VOIDED, _P.AWAITING]) & ~Q(kept=0))
    )
    for order in _first(orders.filter(wrong).order_by("pk")):
        yield (
            f"Order {order.number} is {_state(order.status, order.payment_status)} for "
            f"{_money(order.total, order.currency)}, but keeps {_money(order.kept, order.currency)} "
            f"({_money(order.received, order.currency)} received, "
            f"{_money(order.refunded, order.currency)} refunded)."
        )


def check_order_totals() -> Iterable[str]:
    rows = _first(
        Order.objects.annotate(lines_total=_sum_by_order(OrderLine.objects.all(), "line_total"))
        .annotate(has_lines=Exists(OrderLine.objects.filter(order=OuterRef("pk"))))
        .filter(Q(has_lines=False) | ~Q(subtotal=F("lines_total")))
        .order_by("pk")
    )
    for order in rows:
        if not order.has_lines:
            yield f"Order {order.number} has no lines."
        else:
            yield (
                f"Order {order.number}'s subtotal {_money(order.subtotal, order.currency)} is not the sum "
                f"of its lines, {_money(order.lines_total, order.currency)}."
            )


CHECKS: list[tuple[str, str, Callable[[], Iterable[str]]]] = [
    (
        "stock-within-bounds",
        "no stock count is negative and allocated never exceeds on hand",
        check_stock_bounds,
    ),
    (
        "stock-allocated-equals-holds",
        "each SKU's allocated units are exactly what its held reservations hold",
        check_stock_allocated_equals_holds,
    ),
    (
        "paid-orders-have-their-payment",
        "every paid order has a succeeded payment that asked for and received its total, in its "
        "currency, and a payment time",
        check_paid_orders_have_their_payment,
    ),
    (
        "paid-orders-have-their-stock",
        "every paid order's stock is committed, once, and an order that records it committed "
        "has its reservation committed (or returned)",
        check_paid_orders_have_their_stock,
    ),
    (
        "committed-stock-belongs-to-paid-orders",
        "stock is committed only for orders that were paid",
        check_committed_stock_belongs_to_paid_orders,
    ),
    (
        "reservations-match-orders",
        "an order's reservation exists and holds exactly the order's lines",
        check_reservations_match_orders,
    ),
    (
        "unpaid-orders-charge-nothing",
        "an order awaiting payment keeps no money (a payment that did not match it is refunded in full), "
        "and its stock is held, not taken",
        check_unpaid_orders_charge_nothing,
    ),
    (
        "canceled-orders-hold-nothing",
        "a canceled order holds no stock and has no payment that could still be confirmed",
        check_canceled_orders_hold_nothing,
    ),
    (
        "refunds-within-payments",
        "refunds are only made on succeeded payments, in their currency, and never exceed what Stripe "
        "received for them",
        check_refunds_within_payments,
    ),
    (
        "money-kept-matches-status",
        "money received minus refunded is the total for a paid order, part of it for a partly refunded one, "
        "and nothing for an unpaid, canceled or refunded one (no second charge is kept)",
        check_money_kept_matches_status,
    ),
    (
        "order-totals",
        "every order has lines and its subtotal is their sum",
        check_order_totals,
    ),
]
