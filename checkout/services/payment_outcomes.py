"""What Stripe says became of a payment (succeeded, canceled, disputed), applied to its order
once, however often and in whatever order it is reported; a paid order's stock committed."""

import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from checkout import keys
from checkout.clients import inventory
from checkout.clients import stripe as stripe_api
from checkout.emails import send_order_confirmation
from checkout.exceptions import InventoryUnavailable, OutOfStock, ReservationNotHeld
from checkout.locks import order_and_payment_lock
from checkout.models import Order, Payment
from checkout.services.orders import aorder_flag_by_id, order_cancel_move, order_flag, order_payment_move
from checkout.services.refunds import _arefunded_amount, arefund_issue
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


async def apayment_intent_apply(*, intent: stripe_api.PaymentIntent) -> Order | None:
    """Bring our records in line with the PaymentIntent as Stripe reports it now.

    Used by the return page and (later) the webhook: both may run, in any order,
    any number of times; the order is marked paid and its stock committed once.
    """
    if intent.status == Payment.Status.SUCCEEDED:
        return await apayment_success_apply(
            payment_intent_id=intent.id, amount=intent.amount_received, currency=intent.currency
        )
    if intent.status == Payment.Status.CANCELED:
        return await apayment_cancel_apply(payment_intent_id=intent.id)
    updates: dict[str, object] = {"status": intent.status}
    if intent.decline_message:
        updates["last_error"] = stripe_api.decline_text(intent.decline_message)[:300]
    await (
        Payment.objects.filter(payment_intent_id=intent.id)
        .exclude(status=Payment.Status.SUCCEEDED)
        .aupdate(**updates)
    )
    return await Order.objects.filter(payments__payment_intent_id=intent.id).afirst()


def order_payment_succeeded(
    *, payment_intent_id: str, amount: int, currency: str
) -> tuple[Order | None, bool, bool]:
    """Mark the order paid if the succeeded PaymentIntent matches it.

    `amount` and `currency` are what Stripe reports it received; the payment
    records them, so a refund can never give back more than was taken.
    Return (order, changed, is_extra_charge): the last is True when another
    payment had already paid the order, so this one must be given back.

    Locks the order, then its payment (always in that order). A mismatch of
    amount or currency flags the order for staff instead of marking it paid.
    """
    with transaction.atomic():
        order, payment = order_and_payment_lock(payment_intent_id=payment_intent_id)
        if order is None:
            return None, False, False
        if payment.status != Payment.Status.SUCCEEDED:
            payment.status = Payment.Status.SUCCEEDED
            payment.last_error = ""
            payment.amount_received, payment.currency = amount, currency.upper()
            payment.save(update_fields=["status", "last_error", "amount_received", "currency", "updated_at"])
        paid_by_another = (
            Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED)
            .exclude(pk=payment.pk)
            .exists()
        )
        if not order.is_payable:
            return order, False, paid_by_another
        if amount != order.total or currency.upper() != order.currency:
            order_flag(
                order,
                f"Payment {payment_intent_id} of {amount} {currency.upper()} does not match the order total "
                f"{order.total} {order.currency}; not marked paid.",
            )
            return order, False, False
        order_payment_move(order, Order.PaymentStatus.PAID, paid_at=timezone.now())
        transaction.on_commit(lambda: send_order_confirmation.enqueue(order.pk))
        return order, True, False


async def apayment_success_apply(*, payment_intent_id: str, amount: int, currency: str) -> Order | None:
    """Mark the order paid (once) and commit its reserved stock (once).

    Money is never kept for an order we cannot honour: a payment that arrives for
    a canceled order, a second payment for an order already paid, or a payment
    that arrives after the order's stock was sold to someone else is refunded in
    full and the order flagged for staff.
    """
    order, _changed, is_extra_charge = await sync_to_async(order_payment_succeeded)(
        payment_intent_id=payment_intent_id, amount=amount, currency=currency
    )
    if order is None:
        return None
    if is_extra_charge:
        await _arefund_unwanted_payment(
            order, payment_intent_id, "A second payment succeeded for an order already paid"
        )
        return await Order.objects.aget(pk=order.pk)
    if order.status == Order.Status.CANCELED:
        await _arefund_unwanted_payment(order, payment_intent_id, "Payment succeeded for a canceled order")
        return await Order.objects.aget(pk=order.pk)
    return await aorder_stock_commit(order_id=order.pk)


STOCK_COMMIT_ATTEMPTS = 12


async def aorder_stock_commit(*, order_id: int, attempt: int = 1) -> Order:
    """Turn a paid order's held stock into sold stock, once.

    If the inventory API is unreachable the commit is retried from the persistent
    task queue with growing delays; if the stock is gone the payment is refunded.
    """
    order = await Order.objects.aget(pk=order_id)
    keeps_money = order.payment_status in (Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED)
    if not keeps_money or order.status == Order.Status.CANCELED:
        return order
    if order.stock_committed_at or not order.reservation_id:
        return order
    try:
        await inventory.reservation_commit(reservation_id=order.reservation_id)
    except (OutOfStock, ReservationNotHeld) as error:
        logger.error("paid order has no stock: %s", error, extra={"order": order.number})
        payment = await Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).afirst()
        if payment is not None:
            await _arefund_unwanted_payment(order, payment.payment_intent_id, "Paid after its stock was gone")
    except InventoryUnavailable:
        if attempt >= STOCK_COMMIT_ATTEMPTS:
            await aorder_flag_by_id(
                order_id=order.pk, reason="Paid, but its stock could not be committed: check the inventory."
            )
        else:
            delay = timedelta(seconds=min(30 * 2 ** (attempt - 1), 3600))
            await commit_order_stock.using(run_after=timezone.now() + delay).aenqueue(order.pk, attempt + 1)
            logger.warning("stock commit retry %s queued", attempt + 1, extra={"order": order.number})
    else:
        await Order.objects.filter(pk=order.pk, stock_committed_at__isnull=True).aupdate(
            stock_committed_at=timezone.now()
        )
    return await Order.objects.aget(pk=order.pk)


async def _arefund_unwanted_payment(order: Order, payment_intent_id: str, why: str) -> None:
    payment = await Payment.objects.aget(payment_intent_id=payment_intent_id)
    already = await _arefunded_amount(payment)
    remaining = payment.amount_received - already
    flag = f"{why}: refunded in full automatically."
    if remaining > 0:
        try:
            await arefund_issue(
                order=order,
                payment=payment,
                amount=remaining,
                reason=why,
                idempotency_key=keys.unwanted_payment_refund_key(
                    order_number=order.number, payment_intent_id=payment_intent_id
                ),
            )
        except ShopError as error:
            logger.error("automatic refund failed: %r", error, extra={"order": order.number})
            flag = f"{why}: the automatic refund FAILED, refund it by hand."
    await aorder_flag_by_id(order_id=order.pk, reason=flag)


def order_payment_canceled(*, payment_intent_id: str) -> tuple[Order | None, bool]:
    """Cancel the order whose current PaymentIntent was canceled. Return (order, changed).

    Earlier attempts that we replaced are canceled by us on purpose and change nothing.
    """
    with transaction.atomic():
        order, payment = order_and_payment_lock(payment_intent_id=payment_intent_id)
        if order is None:
            return None, False
        if payment.status != Payment.Status.CANCELED:
            payment.status = Payment.Status.CANCELED
            payment.save(update_fields=["status", "updated_at"])
        current = Payment.objects.filter(order=order).order_by("-attempt").first()
        if not order.is_payable or current is None or current.pk != payment.pk:
            return order, False
        order_cancel_move(order, reason="payment canceled")
        return order, True


async def apayment_cancel_apply(*, payment_intent_id: str) -> Order | None:
    """Cancel the order and give its stock back, once."""
    order, changed = await sync_to_async(order_payment_canceled)(payment_intent_id=payment_intent_id)
    if changed and order is not None and order.reservation_id:
        try:
            await inventory.reservation_release(reservation_id=order.reservation_id)
        except ReservationNotHeld:
            pass  # already released or expired: nothing is held
    return order


async def aunrecorded_payment_resolve(*, order_number: str, intent: stripe_api.PaymentIntent) -> Order | None:
    """Adopt a succeeded PaymentIntent we made for an order but never recorded (a crash in between).

    It is recorded as the order's next attempt and applied: it pays the order if
    the order is still unpaid, or is refunded as an extra charge.
    """
    order = await Order.objects.filter(number=order_number).afirst()
    if order is None:
        return None
    last = await Payment.objects.filter(order=order).order_by("-attempt").afirst()
    await Payment.objects.aget_or_create(
        payment_intent_id=intent.id,
        defaults={
            "order": order,
            "attempt": (last.attempt + 1) if last else 1,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": Payment.Status.REQUIRES_CONFIRMATION,
        },
    )
    return await apayment_intent_apply(intent=intent)


@task()
async def commit_order_stock(order_id: int, attempt: int) -> None:
    """Retry committing a paid order's stock after the inventory API could not be reached."""
    await aorder_stock_commit(order_id=order_id, attempt=attempt)
