"""Paying for an order: the card set-up, the stock hold kept alive, the charge, and canceling
an unpaid order."""

import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from checkout import keys
from checkout.clients import inventory
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    InventoryUnavailable,
    OrderNotPayable,
    OutOfStock,
    PaymentDeclined,
    PaymentFormOutOfDate,
    PaymentInProgress,
    ReservationNotHeld,
    StockHoldLost,
    UnknownItems,
)
from checkout.locks import order_lock
from checkout.models import Order, Payment
from checkout.services.orders import order_cancel_move
from checkout.services.payment_outcomes import apayment_intent_apply
from checkout.services.placement_undo import aorder_stock_reserve
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


async def apayment_setup(*, order: Order) -> str:
    """Start collecting a card for the order. Return the SetupIntent's client secret.

    The order's Customer is made once; every attempt gets a fresh SetupIntent, so
    a shopper whose card was declined can try another.
    """
    if not order.is_payable:
        raise OrderNotPayable()
    payment = await _acurrent_payment(order)
    if not payment.customer_id:
        customer_id = await stripe_api.customer_create(
            email=order.email,
            order_number=order.number,
            idempotency_key=keys.customer_key(order_number=order.number),
        )
        # Two tabs may race here; the first stored customer wins.
        await Payment.objects.filter(pk=payment.pk, customer_id="").aupdate(customer_id=customer_id)
        payment = await Payment.objects.aget(pk=payment.pk)
    updated = await Payment.objects.filter(pk=payment.pk).aupdate(updated_at=timezone.now())
    setup = await stripe_api.setup_intent_create(
        customer_id=payment.customer_id,
        idempotency_key=keys.setup_intent_key(
            order_number=order.number, payment_updated_at=payment.updated_at, updated=updated
        ),
    )
    await Payment.objects.filter(pk=payment.pk).aupdate(setup_intent_id=setup.id)
    return setup.client_secret


async def _acurrent_payment(order: Order) -> Payment:
    payment = await Payment.objects.filter(order=order).order_by("-attempt").afirst()
    if payment is None:
        raise OrderNotPayable("This order's payment is still being prepared. Please reload the page.")
    return payment


async def _anext_payment_attempt(*, order: Order, failed: Payment) -> Payment:
    """Replace a PaymentIntent whose card was refused with a fresh one for the same amount.

    Stripe would let a refused PaymentIntent be confirmed again with another card;
    a fresh one behaves the same everywhere and keeps each attempt's record apart.
    The new attempt is recorded before the old one is canceled, so the old one's
    cancellation (and its webhook) never looks like the order's own.
    """
    attempt = failed.attempt + 1
    intent = await stripe_api.payment_intent_create(
        amount=order.total,
        currency=order.currency,
        order_number=order.number,
        idempotency_key=keys.payment_intent_key(order_number=order.number, attempt=attempt),
    )
    payment, _ = await Payment.objects.aget_or_create(
        order=order,
        attempt=attempt,
        defaults={
            "payment_intent_id": intent.id,
            "customer_id": failed.customer_id,
            "setup_intent_id": failed.setup_intent_id,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status,
        },
    )
    await Payment.objects.filter(pk=failed.pk).aupdate(status=Payment.Status.CANCELED)
    await _apayment_intent_cancel(order, failed)
    return payment


async def _apayment_intent_cancel(order: Order, payment: Payment) -> bool:
    """Cancel a payment attempt's PaymentIntent at Stripe; return whether it was canceled.

    A failure is logged, not raised: a PaymentIntent we never confirm again cannot be charged.
    """
    try:
        await stripe_api.payment_intent_cancel(
            payment_intent_id=payment.payment_intent_id,
            idempotency_key=keys.payment_cancel_key(order_number=order.number, attempt=payment.attempt),
        )
    except ShopError as error:
        logger.warning("could not cancel PaymentIntent: %r", error, extra={"order": order.number})
        return False
    return True


HOLD_RENEW_MARGIN = timedelta(minutes=2)


async def aorder_hold_refresh(*, order: Order) -> None:
    """Make sure the order's stock is still held before a card is charged.

    A hold that has expired (or is about to) is renewed; if the stock has gone
    meanwhile, the order is canceled and StockHoldLost raised, before any charge.
    """
    expires = order.reservation_expires_at
    if not order.reservation_id or expires is None or expires - timezone.now() > HOLD_RENEW_MARGIN:
        return
    old_id = order.reservation_id
    try:
        key = keys.reservation_renew_key(order_number=order.number, reservation_id=old_id)
        renewed = await aorder_stock_reserve(order, idempotency_key=key)
    except (OutOfStock, UnknownItems) as error:
        await aorder_cancel_unpaid(
            order=order, reason=f"stock hold expired and the stock is gone ({error.__class__.__name__})"
        )
        raise StockHoldLost() from error
    updated = await Order.objects.filter(pk=order.pk, reservation_id=old_id).aupdate(
        reservation_id=renewed.id, reservation_expires_at=renewed.expires_at
    )
    if updated:
        try:
            await inventory.reservation_release(reservation_id=old_id)
        except ReservationNotHeld:
            pass
        order.reservation_id, order.reservation_expires_at = renewed.id, renewed.expires_at
    elif renewed.id != (await Order.objects.aget(pk=order.pk)).reservation_id:
        # Another tab renewed first with a different hold: give this one back.
        await inventory.reservation_release(reservation_id=renewed.id)


async def aorder_cancel_unpaid(*, order: Order, reason: str) -> Order:
    """Cancel an unpaid order: its PaymentIntents are canceled and its stock given back."""
    changed = await sync_to_async(_order_move_canceled_if_unpaid)(order_id=order.pk, reason=reason)
    if not changed:
        return await Order.objects.aget(pk=order.pk)
    async for payment in Payment.objects.filter(order=order).exclude(
        status__in=[Payment.Status.SUCCEEDED, Payment.Status.CANCELED]
    ):
        if await _apayment_intent_cancel(order, payment):
            await Payment.objects.filter(pk=payment.pk).aupdate(status=Payment.Status.CANCELED)
    if order.reservation_id:
        try:
            await inventory.reservation_release(reservation_id=order.reservation_id)
        except (ReservationNotHeld, InventoryUnavailable):
            pass  # released already, or it will expire by itself
    return await Order.objects.aget(pk=order.pk)


def _order_move_canceled_if_unpaid(*, order_id: int, reason: str) -> bool:
    """Cancel the order in our records if it is unpaid; return whether it was."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if not order.is_payable:
            return False
        order_cancel_move(order, reason=reason)
        return True


async def apayment_pay(*, order: Order, setup_intent_id: str) -> stripe_api.PaymentIntent:
    """Charge the card collected by the SetupIntent for the order's PaymentIntent.

    Return the PaymentIntent (`succeeded`, or `requires_action` for 3-D Secure);
    raise PaymentDeclined with the reason when the card is refused.

    Before anything is charged the current PaymentIntent is read back from
    Stripe: an earlier attempt whose answer was lost may have paid already, and
    must never be followed by a second charge.
    """
    if not order.is_payable:
        raise OrderNotPayable()
    payment = await _acurrent_payment(order)
    if not setup_intent_id or setup_intent_id != payment.setup_intent_id:
        raise PaymentFormOutOfDate()
    await aorder_hold_refresh(order=order)
    if payment.confirmed_at is not None:
        current = await stripe_api.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
        await apayment_intent_apply(intent=current)
        if current.status in ("succeeded", "processing", "requires_action"):
            return current  # paid, or the browser finishes the 3-D Secure challenge it was given
        if current.status == "requires_payment_method":
            payment = await _anext_payment_attempt(order=order, failed=payment)
        elif current.status == "requires_confirmation":
            pass  # our confirmation never reached Stripe: nothing was charged, so confirm it now
        elif current.status == "canceled":
            raise OrderNotPayable()
        else:
            raise PaymentInProgress()
    setup = await stripe_api.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method:
        raise PaymentFormOutOfDate("Your card was not confirmed. Please enter it again.")
    await Payment.objects.filter(pk=payment.pk, confirmed_at__isnull=True).aupdate(
        confirmed_at=timezone.now()
    )
    try:
        intent = await stripe_api.payment_intent_pay(
            payment_intent_id=payment.payment_intent_id,
            customer_id=payment.customer_id,
            payment_method_id=setup.payment_method,
            idempotency_key=keys.payment_pay_key(order_number=order.number, setup_intent_id=setup_intent_id),
        )
    except PaymentDeclined as declined:
        await Payment.objects.filter(pk=payment.pk).aupdate(
            status=Payment.Status.REQUIRES_PAYMENT_METHOD, last_error=declined.user_message[:300]
        )
        raise
    await apayment_intent_apply(intent=intent)
    return intent
