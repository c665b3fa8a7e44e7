"""A placement's two outside calls (the PaymentIntent, the stock reservation) and their undoing.

Both calls carry idempotency keys derived from the order, so they can be made
again: to resume an interrupted placement, or to find and undo what a call whose
answer was lost did after all.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from checkout import keys
from checkout.clients import inventory
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    InventoryRefused,
    InventoryUnavailable,
    OutOfStock,
    PaymentGatewayUnavailable,
    PaymentRejected,
    ReservationNotHeld,
    UnknownItems,
)
from checkout.locks import order_lock
from checkout.models import Order, OrderLine, Payment
from checkout.services.carts import cart_version_bump
from checkout.services.orders import order_cancel_move
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


async def aorder_payment_intent_create(order: Order) -> stripe_api.PaymentIntent:
    """Create the order's first PaymentIntent, under the key derived from the order."""
    return await stripe_api.payment_intent_create(
        amount=order.total,
        currency=order.currency,
        order_number=order.number,
        idempotency_key=keys.payment_intent_key(order_number=order.number),
    )


async def aorder_stock_reserve(order: Order, *, idempotency_key: str) -> inventory.Reservation:
    """Ask the inventory to hold the order's lines (all or nothing), under `idempotency_key`."""
    lines = [
        (line.sku, line.quantity) async for line in OrderLine.objects.filter(order=order).order_by("sku")
    ]
    return await inventory.reservation_create(
        reference=keys.reservation_reference(order_number=order.number),
        lines=lines,
        ttl_seconds=settings.RESERVATION_TTL,
        idempotency_key=idempotency_key,
    )


def placement_reason(error: BaseException) -> str:
    """Return why a placement failed, in the few words kept on the canceled order."""
    if isinstance(error, OutOfStock):
        return "out of stock: " + ", ".join(f"{line.sku} ({line.available} left)" for line in error.lines)
    if isinstance(error, UnknownItems):
        return "unknown items: " + ", ".join(error.skus)
    if isinstance(error, InventoryRefused):
        return f"inventory refused the order: {error}"[:200]
    if isinstance(error, InventoryUnavailable):
        return "inventory unavailable"
    if isinstance(error, PaymentGatewayUnavailable):
        return "payment provider unavailable"
    if isinstance(error, PaymentRejected):
        return "payment provider refused the request"
    return f"unexpected error: {error.__class__.__name__}"


async def aplacement_undo(order: Order, payment_result: object, reservation_result: object) -> None:
    """Cancel whichever outside effect succeeded. Failures here are logged: a PaymentIntent
    without a card cannot be charged, and a reservation left held expires by itself."""
    undo = []
    if isinstance(payment_result, stripe_api.PaymentIntent):
        undo.append(
            stripe_api.payment_intent_cancel(
                payment_intent_id=payment_result.id,
                idempotency_key=keys.placement_cancel_key(order_number=order.number),
            )
        )
    if isinstance(reservation_result, inventory.Reservation):
        undo.append(inventory.reservation_release(reservation_id=reservation_result.id))
    for result in await asyncio.gather(*undo, return_exceptions=True):
        if isinstance(result, (ShopError, ReservationNotHeld)):
            logger.error(
                "could not undo part of a failed placement: %r", result, extra={"order": order.number}
            )
        elif isinstance(result, BaseException):
            raise result


def order_cancel_at_placement(*, order_id: int, cart_id: int, reason: str) -> None:
    """Cancel an order whose placement failed; the cart stays, under a new version."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if order.is_payable:
            order_cancel_move(order, reason=reason)
        cart_version_bump(cart_id=cart_id)


aorder_cancel_at_placement = sync_to_async(order_cancel_at_placement)


async def aplacement_reservation_release(*, order_id: int) -> None:
    """Release whatever a failed placement's reserve request held: replayed under its key, the
    request answers with the reservation it made (or makes one), and that is released."""
    order = await Order.objects.aget(pk=order_id)
    if order.status != Order.Status.CANCELED or order.reservation_id:
        return
    try:
        reservation = await aorder_stock_reserve(
            order, idempotency_key=keys.reservation_key(order_number=order.number)
        )
    except (OutOfStock, UnknownItems):
        return  # nothing could have been held
    await inventory.reservation_release(reservation_id=reservation.id)


async def aplacement_payment_intent_cancel(*, order_id: int) -> None:
    """Cancel whatever PaymentIntent a failed placement's create request made: replayed under its
    key, the request answers with the PaymentIntent it made (or makes one), and that is canceled."""
    order = await Order.objects.aget(pk=order_id)
    if order.status != Order.Status.CANCELED or await Payment.objects.filter(order=order).aexists():
        return
    intent = await aorder_payment_intent_create(order)
    if intent.status != Payment.Status.CANCELED:
        await stripe_api.payment_intent_cancel(
            payment_intent_id=intent.id, idempotency_key=keys.placement_cancel_key(order_number=order.number)
        )
