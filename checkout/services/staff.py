"""Staff actions on an order: ship, refund, cancel."""

import logging

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from checkout.clients import arelease_database_connection, inventory
from checkout.emails import send_shipping_notice
from checkout.exceptions import (
    ReservationNotHeld,
)
from checkout.models import (
    Order,
    OrderEvent,
    Payment,
    Refund,
)
from checkout.services.orders import IllegalTransition, _flag_by_id, _order_move
from checkout.services.payments import aorder_cancel
from checkout.services.refunds import _refunded, arefund_create
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


def order_fulfil(*, order_id: int, carrier: str, tracking_number: str, actor_id: int) -> Order:
    """Mark a paid order shipped, with its carrier and tracking number, and queue the customer's e-mail."""
    from shop.exceptions import InvalidInput

    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Give the carrier and the tracking number.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
            raise IllegalTransition(
                f"Only a paid order can be shipped; this one is {order.get_status_display()}."
            )
        if order.fulfilled_at is not None:  # shipped, then partly refunded
            raise IllegalTransition(f"Order {order.number} was already shipped with {order.carrier}.")
        _order_move(
            order,
            Order.Status.FULFILLED,
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


async def astaff_refund(*, order: Order, amount: int, reason: str, request_key: str, actor_id: int) -> Refund:
    """Refund part or all of what Stripe took for an order, as a member of staff.

    Whatever the order's status: a payment that did not match its order (left
    unpaid and flagged) or one kept by a canceled order is given back the same way.
    """
    from shop.exceptions import InvalidInput

    payments = await sync_to_async(_refundable_payments)(order.pk)
    if not payments:
        if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.CANCELED):
            raise InvalidInput(f"A {order.get_status_display().lower()} order cannot be refunded.")
        raise InvalidInput("Nothing is left to refund on this order.")
    payment, _remaining = payments[0]
    return await arefund_create(
        order=order,
        payment=payment,
        amount=amount,
        reason=reason.strip() or "refunded by staff",
        idempotency_key=f"order-{order.number}-refund-{request_key}",
        created_by_id=actor_id,
    )


async def astaff_cancel(*, order: Order, reason: str, actor_id: int) -> Order:
    """Cancel an order as a member of staff.

    Unpaid: its PaymentIntents are canceled and its stock released. Paid but not
    shipped: it is canceled, everything paid is refunded and its stock goes back
    on hand. A shipped, refunded or canceled order cannot be canceled.
    """
    reason = reason.strip() or "canceled by staff"
    if order.status == Order.Status.PENDING_PAYMENT:
        canceled = await aorder_cancel(order=order, reason=f"canceled by staff: {reason}")
        await OrderEvent.objects.acreate(
            order=order, kind=OrderEvent.Kind.NOTE, message=reason, actor_id=actor_id
        )
        return canceled
    if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
        raise IllegalTransition(f"A {order.get_status_display().lower()} order cannot be canceled.")
    await sync_to_async(_order_cancel_paid)(order_id=order.pk, reason=reason, actor_id=actor_id)
    for payment, remaining in await sync_to_async(_refundable_payments)(order.pk):
        try:
            await arefund_create(
                order=order,
                payment=payment,
                amount=remaining,
                reason=f"order canceled: {reason}",
                idempotency_key=f"order-{order.number}-cancel-refund-{payment.pk}",
                created_by_id=actor_id,
            )
        except ShopError as error:
            await sync_to_async(_flag_by_id)(
                order_id=order.pk,
                reason=f"Canceled, but the refund failed ({error.staff_message}): refund it by hand.",
            )
            raise
    if order.reservation_id:
        await arelease_database_connection()
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
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
            raise IllegalTransition(f"A {order.get_status_display().lower()} order cannot be canceled.")
        if order.fulfilled_at is not None:  # shipped, then partly refunded
            raise IllegalTransition("A shipped order cannot be canceled; refund it instead.")
        _order_move(
            order,
            Order.Status.CANCELED,
            actor_id=actor_id,
            note=reason,
            cancel_reason=f"canceled by staff: {reason}"[:200],
            canceled_at=timezone.now(),
        )
