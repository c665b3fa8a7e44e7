"""The order's state: the one place that moves an order's status and records it."""

import logging

from asgiref.sync import sync_to_async
from django.db import transaction

from checkout.models import (
    Order,
    OrderEvent,
)
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


_S = Order.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    _S.PENDING_PAYMENT: {_S.PAID, _S.CANCELED},
    _S.PAID: {_S.FULFILLED, _S.CANCELED, _S.REFUNDED, _S.PARTIALLY_REFUNDED},
    _S.PARTIALLY_REFUNDED: {_S.FULFILLED, _S.REFUNDED, _S.CANCELED},
    _S.FULFILLED: {_S.REFUNDED, _S.PARTIALLY_REFUNDED},
    _S.CANCELED: set(),
    _S.REFUNDED: set(),
}


class IllegalTransition(ShopError):
    """An order was asked to move to a status it cannot reach from where it is."""


def _order_move(
    order: Order, status: str, *, actor_id: int | None = None, note: str = "", **fields: object
) -> None:
    """Move a locked order to `status` (and set `fields`), recording it in the order's history.

    Raise IllegalTransition if the order cannot go there from where it is.
    """
    if status not in ALLOWED_TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"Order {order.number} cannot go from {order.get_status_display()} "
            f"to {Order.Status(status).label}."
        )
    before = order.get_status_display()
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", *fields, "updated_at"])
    message = f"{before} → {order.get_status_display()}" + (f": {note}" if note else "")
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, message=message[:500], actor_id=actor_id
    )


def _order_flag(order: Order, reason: str) -> None:
    """Mark a locked order for staff, keeping earlier reasons."""
    reasons = [r for r in order.flag_reason.split(" | ") if r] if order.flag_reason else []
    if reason not in reasons:
        reasons.append(reason)
    order.is_flagged = True
    order.flag_reason = " | ".join(reasons)[-300:]
    order.save(update_fields=["is_flagged", "flag_reason", "updated_at"])
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.FLAGGED, message=reason[:500])


def _flag_by_id(*, order_id: int, reason: str) -> None:
    with transaction.atomic():
        _order_flag(Order.objects.select_for_update().get(pk=order_id), reason)


def order_flag_for_payment(*, payment_intent_id: str, reason: str) -> Order | None:
    """Flag the order that a payment belongs to (e.g. a dispute). Return it, or None if not ours."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(payments__payment_intent_id=payment_intent_id)
            .first()
        )
        if order is not None:
            _order_flag(order, reason)
        return order


aorder_flag_for_payment = sync_to_async(order_flag_for_payment)
