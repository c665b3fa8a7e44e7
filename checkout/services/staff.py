"""Staff actions on an order: ship, refund, cancel."""

import logging

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from checkout import keys
from checkout.clients import inventory
from checkout.emails import send_shipping_notice
from checkout.exceptions import ReservationNotHeld
from checkout.locks import order_lock
from checkout.models import (
    Order,
    OrderEvent,
    Payment,
    Refund,
)
from checkout.services.orders import (
    IllegalTransition,
    aorder_flag_by_id,
    order_cancel_move,
    order_fulfilment_move,
)
from checkout.services.payments import aorder_cancel_unpaid
from checkout.services.refunds import _refunded, arefund_issue
from shop.exceptions import InvalidInput, ShopError

logger = logging.getLogger(__name__)


def order_fulfil(*, order_id: int, carrier: str, tracking_number: str, actor_id: int) -> Order:
    """Mark a paid order shipped, with its carrier and tracking number, and queue the customer's e-mail."""
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Give the carrier and the tracking number.")
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if order.fulfilment_status == Order.FulfilmentStatus.FULFILLED:
            raise IllegalTransition(f"Order {order.number} was already shipped with {order.carrier}.")
        order_fulfilment_move(
            order,
            Order.FulfilmentStatus.FULFILLED,
            actor_id=actor_id,
            note=f"shipped with {carrier}, tracking {tracking_number}",
            fulfilled_at=timezone.now(),
            carrier=carrier[:60],
            tracking_number=tracking_number[:100],
        )
        transaction.on_commit(lambda: send_shipping_notice.enqueue(order.pk))
    return order


aorder_fulfil = sync_to_async(order_fulfil)


def _refundable_payments(order_id: int) -> list[tuple[Payment, int]]:
    payments = []
    for payment in Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).order_by(
        "attempt"
    ):
        refunded = _refunded(payment=payment)
        if payment.amount_received > refunded:
            payments.append((payment, payment.amount_received - refunded))
    return payments


async def astaff_refund(
    *,
    order: Order,
    amount: int | None,
    lines: dict[int, int] | None = None,
    reason: str,
    request_key: str,
    actor_id: int,
) -> Refund:
    """Refund part or all of what Stripe took for an order, as a member of staff: `amount`, or
    the order lines in `lines` (line id -> how many) with their own VAT.

    Whatever the order's status: a payment that did not match its order (left
    unpaid and flagged) or one kept by a canceled order is given back the same way.
    """
    payments = await sync_to_async(_refundable_payments)(order.pk)
    if not payments:
        if order.status == Order.Status.CANCELED or order.payment_status == Order.PaymentStatus.AWAITING:
            state = order.get_status_display() if order.status == Order.Status.CANCELED else "unpaid"
            raise InvalidInput(f"A {state.lower()} order cannot be refunded.")
        raise InvalidInput("Nothing is left to refund on this order.")
    payment, _remaining = payments[0]
    return await arefund_issue(
        order=order,
        payment=payment,
        amount=amount,
        lines=lines,
        reason=reason.strip() or "refunded by staff",
        idempotency_key=keys.staff_refund_key(order_number=order.number, request_key=request_key),
        created_by_id=actor_id,
    )


async def astaff_cancel(*, order: Order, reason: str, actor_id: int) -> Order:
    """Cancel an order as a member of staff.

    Unpaid: its PaymentIntents are canceled and its stock released. Paid but not
    shipped: it is canceled, everything paid is refunded and its stock goes back
    on hand. A shipped, refunded or canceled order cannot be canceled.
    """
    reason = reason.strip() or "canceled by staff"
    if order.is_payable:
        canceled = await aorder_cancel_unpaid(order=order, reason=f"canceled by staff: {reason}")
        await OrderEvent.objects.acreate(
            order=order, kind=OrderEvent.Kind.NOTE, message=reason, actor_id=actor_id
        )
        return canceled
    if not order.is_cancelable:
        raise IllegalTransition(_why_not_cancelable(order))
    await sync_to_async(_order_cancel_paid)(order_id=order.pk, reason=reason, actor_id=actor_id)
    for payment, remaining in await sync_to_async(_refundable_payments)(order.pk):
        try:
            await arefund_issue(
                order=order,
                payment=payment,
                amount=remaining,
                reason=f"order canceled: {reason}",
                idempotency_key=keys.cancel_refund_key(order_number=order.number, payment_id=payment.pk),
                created_by_id=actor_id,
            )
        except ShopError as error:
            await aorder_flag_by_id(
                order_id=order.pk,
                reason=f"Canceled, but the refund failed ({error.staff_message}): refund it by hand.",
            )
            raise
    if order.reservation_id:
        try:
            if order.stock_committed_at:
                await inventory.reservation_return(reservation_id=order.reservation_id)
            else:
                await inventory.reservation_release(reservation_id=order.reservation_id)
        except ReservationNotHeld:
            pass
    return await Order.objects.aget(pk=order.pk)


def _order_cancel_paid(*, order_id: int, reason: str, actor_id: int) -> None:
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        order_cancel_move(order, reason=f"canceled by staff: {reason}", actor_id=actor_id, note=reason)


def _why_not_cancelable(order: Order) -> str:
    if order.fulfilment_status != Order.FulfilmentStatus.UNFULFILLED:
        return "A shipped order cannot be canceled; refund it instead."
    return f"A {order.get_status_display().lower()} order cannot be canceled."
