"""An order's three states: each machine's table move by move, and the rules it keeps through the services."""

import itertools

import pytest
from asgiref.sync import async_to_sync

from checkout.models import Order, OrderEvent
from checkout.services.orders import (
    FULFILMENT_MOVES,
    LIFECYCLE_MOVES,
    PAYMENT_MOVES,
    IllegalTransition,
    order_cancel_move,
    order_fulfilment_move,
    order_payment_move,
)
from checkout.services.refunds import refund_record
from checkout.services.staff import astaff_cancel, order_fulfil
from dashboard.selectors import orders_awaiting_fulfilment
from tests.factories import OrderFactory, PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db

S, P, F = Order.Status, Order.PaymentStatus, Order.FulfilmentStatus

#: Where each payment status leaves an unshipped order's own status.
LIFECYCLE_OF_PAYMENT = {
    P.AWAITING: S.OPEN,
    P.PAID: S.OPEN,
    P.PARTIALLY_REFUNDED: S.OPEN,
    P.REFUNDED: S.CLOSED,
    P.VOIDED: S.CANCELED,
}
PAYMENT_EVENTS = {
    (P.AWAITING, P.PAID): "Payment: Awaiting payment → Paid",
    (P.AWAITING, P.VOIDED): "Payment: Awaiting payment → Voided; Order: Open → Canceled",
    (P.PAID, P.PARTIALLY_REFUNDED): "Payment: Paid → Partially refunded",
    (P.PAID, P.REFUNDED): "Payment: Paid → Refunded; Order: Open → Closed",
    (P.PARTIALLY_REFUNDED, P.REFUNDED): "Payment: Partially refunded → Refunded; Order: Open → Closed",
    (P.VOIDED, P.REFUNDED): "Payment: Voided → Refunded",
}
FULFILMENT_EVENTS = {
    (F.UNFULFILLED, F.PARTIALLY_FULFILLED): "Shipping: Not shipped → Partly shipped",
    (F.UNFULFILLED, F.FULFILLED): "Shipping: Not shipped → Shipped; Order: Open → Closed",
    (F.PARTIALLY_FULFILLED, F.FULFILLED): "Shipping: Partly shipped → Shipped; Order: Open → Closed",
}


def _states(order: Order) -> tuple[str, str, str]:
    order.refresh_from_db()
    return order.status, order.payment_status, order.fulfilment_status


def _events(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("message", flat=True))


def test_the_tables_name_every_state_and_nothing_reopens():
    assert set(PAYMENT_MOVES) == set(P.values)
    assert set(FULFILMENT_MOVES) == set(F.values)
    assert set(LIFECYCLE_MOVES) == set(S.values)
    assert all(S.OPEN not in moves for moves in LIFECYCLE_MOVES.values())
    assert set(PAYMENT_EVENTS) == {(a, b) for a, moves in PAYMENT_MOVES.items() for b in moves}
    assert set(FULFILMENT_EVENTS) == {(a, b) for a, moves in FULFILMENT_MOVES.items() for b in moves}


@pytest.mark.parametrize(("before", "after"), list(itertools.product(P.values, P.values)))
def test_payment_moves(before, after):
    order = OrderFactory(status=LIFECYCLE_OF_PAYMENT[before], payment_status=before)
    if after in PAYMENT_MOVES[before]:
        order_payment_move(order, after, note="by the table")
        # A canceled order stays canceled when money that came late is given back.
        lifecycle = S.CANCELED if before == P.VOIDED else LIFECYCLE_OF_PAYMENT[after]
        assert _states(order) == (lifecycle, after, F.UNFULFILLED)
        assert _events(order) == [f"{PAYMENT_EVENTS[before, after]}: by the table"]
    else:
        with pytest.raises(IllegalTransition):
            order_payment_move(order, after)
        assert _states(order) == (LIFECYCLE_OF_PAYMENT[before], before, F.UNFULFILLED)
        assert _events(order) == []


@pytest.mark.parametrize(("before", "after"), list(itertools.product(F.values, F.values)))
def test_fulfilment_moves(before, after):
    lifecycle = S.CLOSED if before == F.FULFILLED else S.OPEN
    order = OrderFactory(status=lifecycle, payment_status=P.PAID, fulfilment_status=before)
    if after in FULFILMENT_MOVES[before]:
        order_fulfilment_move(order, after)
        assert _states(order) == (S.CLOSED if after == F.FULFILLED else S.OPEN, P.PAID, after)
        assert _events(order) == [FULFILMENT_EVENTS[before, after]]
    else:
        with pytest.raises(IllegalTransition):
            order_fulfilment_move(order, after)
        assert _states(order) == (lifecycle, P.PAID, before)
        assert _events(order) == []


def _to_lifecycle(order: Order, status: str) -> None:
    """Ask for the order's own status to become `status` the only ways it can: cancel, or ship it all."""
    if status == S.CANCELED:
        order_cancel_move(order, reason="changed their mind")
    elif status == S.CLOSED:
        order_fulfilment_move(order, F.FULFILLED)
    else:
        raise IllegalTransition("nothing reopens an order")


@pytest.mark.parametrize(("before", "after"), list(itertools.product(S.values, S.values)))
def test_lifecycle_moves(before, after):
    order = OrderFactory(status=before, payment_status=P.PAID)
    if after in LIFECYCLE_MOVES[before]:
        _to_lifecycle(order, after)
        expected = {
            S.CANCELED: (S.CANCELED, P.PAID, F.UNFULFILLED),
            S.CLOSED: (S.CLOSED, P.PAID, F.FULFILLED),
        }[after]
        assert _states(order) == expected
        assert _events(order) == [
            {
                S.CANCELED: "Order: Open → Canceled",
                S.CLOSED: "Shipping: Not shipped → Shipped; Order: Open → Closed",
            }[after]
        ]
        assert (order.cancel_reason, order.canceled_at is not None) == (
            ("changed their mind", True) if after == S.CANCELED else ("", False)
        )
    else:
        with pytest.raises(IllegalTransition):
            _to_lifecycle(order, after)
        assert _states(order) == (before, P.PAID, F.UNFULFILLED)
        assert _events(order) == []


def test_cancel_voids_an_unpaid_order():
    order = OrderFactory(status=S.OPEN, payment_status=P.AWAITING)
    order_cancel_move(order, reason="payment canceled")
    assert _states(order) == (S.CANCELED, P.VOIDED, F.UNFULFILLED)
    assert order.cancel_reason == "payment canceled" and order.canceled_at is not None
    assert _events(order) == ["Payment: Awaiting payment → Voided; Order: Open → Canceled"]


def _refund(order: Order, payment, amount: int, refund_id: str) -> None:
    refund_record(
        payment_intent_id=payment.payment_intent_id,
        stripe_refund_id=refund_id,
        amount=amount,
        currency="GBP",
        status="succeeded",
        reason="damaged in transit",
    )


def test_a_shipped_order_partly_refunded_stays_shipped_and_cannot_be_canceled():
    staff = UserFactory(is_staff=True)
    order = OrderFactory(status=S.OPEN, payment_status=P.PAID)
    payment = PaymentFactory(order=order)
    order_fulfil(order_id=order.pk, carrier="Royal Mail", tracking_number="RM123", actor_id=staff.pk)
    assert _states(order) == (S.CLOSED, P.PAID, F.FULFILLED)

    _refund(order, payment, 500, "re_part")
    assert _states(order) == (S.CLOSED, P.PARTIALLY_REFUNDED, F.FULFILLED)
    assert order.state_label == "Shipped · Partially refunded"

    with pytest.raises(IllegalTransition, match="A shipped order cannot be canceled; refund it instead."):
        async_to_sync(astaff_cancel)(order=order, reason="too late", actor_id=staff.pk)
    assert _states(order) == (S.CLOSED, P.PARTIALLY_REFUNDED, F.FULFILLED)
    assert _events(order)[-1] == "Payment: Paid → Partially refunded"

    _refund(order, payment, 700, "re_rest")
    assert _states(order) == (S.CLOSED, P.REFUNDED, F.FULFILLED)


def test_an_order_partly_refunded_before_shipping_still_waits_to_ship():
    staff = UserFactory(is_staff=True)
    order = OrderFactory(status=S.OPEN, payment_status=P.PAID)
    payment = PaymentFactory(order=order)
    _refund(order, payment, 300, "re_early")
    assert _states(order) == (S.OPEN, P.PARTIALLY_REFUNDED, F.UNFULFILLED)
    waiting, count = async_to_sync(orders_awaiting_fulfilment)()
    assert ([o.number for o in waiting], count) == ([order.number], 1)

    order_fulfil(order_id=order.pk, carrier="DPD", tracking_number="DPD9", actor_id=staff.pk)
    assert _states(order) == (S.CLOSED, P.PARTIALLY_REFUNDED, F.FULFILLED)
    assert async_to_sync(orders_awaiting_fulfilment)() == ([], 0)
    assert _events(order)[-1] == (
        "Shipping: Not shipped → Shipped; Order: Open → Closed: shipped with DPD, tracking DPD9"
    )


def test_an_order_refunded_in_full_before_shipping_is_closed_and_cannot_ship():
    staff = UserFactory(is_staff=True)
    order = OrderFactory(status=S.OPEN, payment_status=P.PAID)
    payment = PaymentFactory(order=order)
    _refund(order, payment, 1200, "re_all")
    assert _states(order) == (S.CLOSED, P.REFUNDED, F.UNFULFILLED)
    with pytest.raises(IllegalTransition, match="Only a paid order can be shipped; this one is Closed."):
        order_fulfil(order_id=order.pk, carrier="DPD", tracking_number="DPD9", actor_id=staff.pk)
    assert _states(order) == (S.CLOSED, P.REFUNDED, F.UNFULFILLED)


def test_an_unpaid_order_cannot_ship():
    staff = UserFactory(is_staff=True)
    order = OrderFactory(status=S.OPEN, payment_status=P.AWAITING)
    with pytest.raises(IllegalTransition, match="this one is Awaiting payment."):
        order_fulfil(order_id=order.pk, carrier="DPD", tracking_number="DPD9", actor_id=staff.pk)
    assert _states(order) == (S.OPEN, P.AWAITING, F.UNFULFILLED)
    assert _events(order) == []
