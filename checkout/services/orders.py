"""The order's state, the one place that moves it and records it.

Three machines, each with one table of allowed moves: the money (payment status),
the goods (fulfilment status) and the order's own status (open, canceled, closed),
which always follows from the other two and the cancel (`order_lifecycle`).
"""

import logging

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from checkout.exceptions import IllegalTransition
from checkout.locks import order_lock, order_lock_by_payment
from checkout.models import Order, OrderEvent
from promotions.services import code_use_consume, code_use_release

logger = logging.getLogger(__name__)


_O, _P, _F = Order.Status, Order.PaymentStatus, Order.FulfilmentStatus
PAYMENT_MOVES: dict[str, set[str]] = {
    _P.AWAITING: {_P.PAID, _P.VOIDED},
    _P.PAID: {_P.PARTIALLY_REFUNDED, _P.REFUNDED},
    _P.PARTIALLY_REFUNDED: {_P.REFUNDED},
    # Money that arrived after the order was canceled is given back.
    _P.VOIDED: {_P.REFUNDED},
    _P.REFUNDED: set(),
}
FULFILMENT_MOVES: dict[str, set[str]] = {
    _F.UNFULFILLED: {_F.PARTIALLY_FULFILLED, _F.FULFILLED},
    _F.PARTIALLY_FULFILLED: {_F.FULFILLED},
    _F.FULFILLED: set(),
}
LIFECYCLE_MOVES: dict[str, set[str]] = {
    _O.OPEN: {_O.CANCELED, _O.CLOSED},
    _O.CANCELED: set(),
    _O.CLOSED: set(),
}
#: An order ships only once its money is in (a partial refund before shipping included).
SHIPPABLE_PAYMENT = (_P.PAID, _P.PARTIALLY_REFUNDED)


def order_lifecycle(*, payment_status: str, fulfilment_status: str, is_canceled: bool) -> str:
    """Return the order's own status for its money, its goods and whether it was canceled.

    Closed when everything was shipped, or when nothing is left to ship because all
    the money was given back; open otherwise.
    """
    if is_canceled or payment_status == _P.VOIDED:
        return _O.CANCELED
    if fulfilment_status == _F.FULFILLED or payment_status == _P.REFUNDED:
        return _O.CLOSED
    return _O.OPEN


def _order_save(
    order: Order, moves: list[tuple[str, str]], *, cancel: bool, actor_id: int | None, note: str, fields: dict
) -> None:
    """Apply `moves` ((field, new value), already allowed) and `fields` to a locked order.

    The order's own status is recomputed; the whole change is one line of its history.
    """
    parts = []
    labels = {"payment_status": "Payment", "fulfilment_status": "Shipping"}
    for name, value in moves:
        before = getattr(order, f"get_{name}_display")()
        setattr(order, name, value)
        parts.append(f"{labels[name]}: {before} → {getattr(order, f'get_{name}_display')()}")
    lifecycle = order_lifecycle(
        payment_status=order.payment_status,
        fulfilment_status=order.fulfilment_status,
        is_canceled=cancel or order.status == _O.CANCELED,
    )
    if lifecycle != order.status:
        if lifecycle not in LIFECYCLE_MOVES[order.status]:
            raise IllegalTransition(
                f"Order {order.number} cannot go from {order.get_status_display()} "
                f"to {Order.Status(lifecycle).label}."
            )
        before = order.get_status_display()
        order.status = lifecycle
        parts.append(f"Order: {before} → {order.get_status_display()}")
        if lifecycle == _O.CANCELED:
            fields = {"canceled_at": timezone.now(), **fields}
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", "payment_status", "fulfilment_status", *fields, "updated_at"])
    # A code's use follows the order's moves: consumed when it is paid, given back when it is
    # canceled unpaid (the other saves of an order leave it alone).
    if ("payment_status", _P.PAID) in moves:
        code_use_consume(order_id=order.pk)
    elif cancel and order.payment_status in (_P.AWAITING, _P.VOIDED):
        code_use_release(order_id=order.pk)
    message = "; ".join(parts) + (f": {note}" if note else "")
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, message=message[:500], actor_id=actor_id
    )


def order_payment_move(
    order: Order, status: str, *, actor_id: int | None = None, note: str = "", **fields: object
) -> None:
    """Move a locked order's payment status to `status` (and set `fields`), recording it.

    Raise IllegalTransition if its payment cannot go there from where it is.
    """
    if status not in PAYMENT_MOVES[order.payment_status]:
        raise IllegalTransition(
            f"Order {order.number}'s payment cannot go from {order.get_payment_status_display()} "
            f"to {Order.PaymentStatus(status).label}."
        )
    moves = [("payment_status", status)]
    _order_save(order, moves, cancel=False, actor_id=actor_id, note=note, fields=fields)


def order_fulfilment_move(
    order: Order, status: str, *, actor_id: int | None = None, note: str = "", **fields: object
) -> None:
    """Move a locked order's fulfilment status to `status` (and set `fields`), recording it.

    Raise IllegalTransition unless the order is open, its money is in and its goods can go there.
    """
    if order.status != _O.OPEN or order.payment_status not in SHIPPABLE_PAYMENT:
        state = order.get_payment_status_display() if order.status == _O.OPEN else order.get_status_display()
        raise IllegalTransition(f"Only a paid order can be shipped; this one is {state}.")
    if status not in FULFILMENT_MOVES[order.fulfilment_status]:
        raise IllegalTransition(
            f"Order {order.number} cannot go from {order.get_fulfilment_status_display()} "
            f"to {Order.FulfilmentStatus(status).label}."
        )
    _order_save(
        order, [("fulfilment_status", status)], cancel=False, actor_id=actor_id, note=note, fields=fields
    )


def order_cancel_move(order: Order, *, reason: str, actor_id: int | None = None, note: str = "") -> None:
    """Cancel a locked open order that has shipped nothing, recording it.

    Its payment, if none was taken, is voided; money taken stays paid until it is refunded.
    Raise IllegalTransition if the order is not open or has shipped anything.
    """
    if order.fulfilment_status != _F.UNFULFILLED:
        raise IllegalTransition("A shipped order cannot be canceled; refund it instead.")
    if _O.CANCELED not in LIFECYCLE_MOVES[order.status]:
        raise IllegalTransition(f"A {order.get_status_display().lower()} order cannot be canceled.")
    moves = []
    if order.payment_status == _P.AWAITING:
        moves.append(("payment_status", _P.VOIDED))
    _order_save(
        order, moves, cancel=True, actor_id=actor_id, note=note, fields={"cancel_reason": reason[:200]}
    )


def order_payment_settle(order: Order, *, received: int, kept: int) -> None:
    """Bring a locked order's payment status in line with the money it keeps (received − refunded).

    An order never marked paid (its payment did not match) stays awaiting payment.
    """
    current = order.payment_status
    target = current
    if current in SHIPPABLE_PAYMENT:
        if kept <= 0:
            target = _P.REFUNDED
        elif kept < order.total:
            target = _P.PARTIALLY_REFUNDED
    elif current == _P.VOIDED and received > 0 and kept <= 0:
        target = _P.REFUNDED
    if target != current:
        order_payment_move(order, target)


def order_flag(order: Order, reason: str) -> None:
    """Mark a locked order for staff, keeping earlier reasons."""
    reasons = [r for r in order.flag_reason.split(" | ") if r] if order.flag_reason else []
    if reason not in reasons:
        reasons.append(reason)
    order.is_flagged = True
    order.flag_reason = " | ".join(reasons)[-300:]
    order.save(update_fields=["is_flagged", "flag_reason", "updated_at"])
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.FLAGGED, message=reason[:500])


def order_flag_by_id(*, order_id: int, reason: str) -> None:
    """Lock the order and flag it for staff."""
    with transaction.atomic():
        order_flag(order_lock(order_id=order_id), reason)


def order_flag_for_payment(*, payment_intent_id: str, reason: str) -> Order | None:
    """Flag the order that a payment belongs to (e.g. a dispute). Return it, or None if not ours."""
    with transaction.atomic():
        order = order_lock_by_payment(payment_intent_id=payment_intent_id)
        if order is not None:
            order_flag(order, reason)
        return order


def order_flag_resolve(*, order_id: int, actor_id: int | None) -> bool:
    """Clear an order's flag, noting what it was and who cleared it. Return False if it had none."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if not order.is_flagged:
            return False
        order.is_flagged = False
        order.save(update_fields=["is_flagged", "updated_at"])
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.NOTE,
            message=f"Flag resolved: {order.flag_reason}"[:500],
            actor_id=actor_id,
        )
        return True


aorder_flag_by_id = sync_to_async(order_flag_by_id)
aorder_flag_for_payment = sync_to_async(order_flag_for_payment)
aorder_flag_resolve = sync_to_async(order_flag_resolve)
