"""Refunds, cancellations and disputes: money given back, recorded once, never more than was received."""

import logging

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Sum

from checkout.clients import stripe as stripe_api
from checkout.locks import order_and_payment_lock, order_and_refund_lock, order_lock, payment_lock
from checkout.models import (
    Order,
    OrderEvent,
    Payment,
    Refund,
    RefundLine,
)
from checkout.services.orders import order_flag, order_payment_settle
from checkout.services.refund_tax import refund_line_parts, refund_tax_share
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


def _refunded(**filters: object) -> int:
    """Return the minor units refunded or being refunded on the payment or order in `filters`."""
    live = Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED], **filters)
    return live.aggregate(total=Sum("amount"))["total"] or 0


async def _arefunded_amount(payment: Payment) -> int:
    return await sync_to_async(_refunded)(payment=payment)


async def arefund_issue(
    *,
    order: Order,
    payment: Payment,
    amount: int | None = None,
    lines: dict[int, int] | None = None,
    reason: str,
    idempotency_key: str,
    created_by_id: int | None = None,
) -> Refund:
    """Refund `amount` of a succeeded payment, or the order lines in `lines` (line id -> how
    many), through Stripe and record it with the tax it gives back.

    The refund is first claimed in our database under a lock on the order, so a
    double submit (same key) gives one refund and two staff together can never
    refund more than was paid. Refuses amounts of zero or less, or more than is left.
    """
    refund = await sync_to_async(refund_claim)(
        order_id=order.pk,
        payment_id=payment.pk,
        amount=amount,
        lines=lines,
        reason=reason,
        request_key=idempotency_key,
        actor_id=created_by_id,
    )
    if refund.stripe_refund_id:
        return refund  # this request was already carried out
    try:
        made = await stripe_api.refund_create(
            payment_intent_id=payment.payment_intent_id, amount=refund.amount, idempotency_key=idempotency_key
        )
    except ShopError:
        await sync_to_async(refund_abandon)(refund_id=refund.pk)
        raise
    return await sync_to_async(refund_finish)(
        refund_id=refund.pk, stripe_refund_id=made.id, status=made.status
    )


def refund_claim(
    *,
    order_id: int,
    payment_id: int,
    amount: int | None,
    lines: dict[int, int] | None = None,
    reason: str,
    request_key: str,
    actor_id: int | None,
) -> Refund:
    """Reserve a refund of `amount`, or of the order lines in `lines`, on a payment before asking
    Stripe for it. Return the claim (or the refund already made under `request_key`)."""
    from shop.exceptions import InvalidInput
    from shop.money import format_money

    with transaction.atomic():
        order = order_lock(order_id=order_id)
        existing = Refund.objects.filter(request_key=request_key).first()
        if existing is not None:
            return existing
        payment = payment_lock(payment_id=payment_id, order=order)
        if payment.status != Payment.Status.SUCCEEDED:
            raise InvalidInput("Only a completed payment can be refunded.")
        remaining = payment.amount_received - _refunded(payment=payment)
        parts = refund_line_parts(order, lines) if lines else []
        if parts:
            amount = sum(part.amount for part in parts)
        if amount is None or amount <= 0:
            raise InvalidInput("A refund must be more than zero.")
        if amount > remaining:
            raise InvalidInput(f"At most {format_money(remaining, payment.currency)} can still be refunded.")
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            amount=amount,
            tax=sum(part.tax for part in parts) if parts else refund_tax_share(order, amount),
            currency=payment.currency,
            status=Refund.Status.PENDING,
            reason=reason[:200],
            request_key=request_key,
            created_by_id=actor_id,
        )
        RefundLine.objects.bulk_create(
            [
                RefundLine(
                    refund=refund,
                    order_line=part.line,
                    quantity=part.quantity,
                    amount=part.amount,
                    tax=part.tax,
                )
                for part in parts
            ]
        )
        return refund


def refund_abandon(*, refund_id: int) -> None:
    """Drop a claim whose refund Stripe did not make."""
    Refund.objects.filter(pk=refund_id, stripe_refund_id__isnull=True).delete()


def refund_finish(*, refund_id: int, stripe_refund_id: str, status: str) -> Refund:
    """Record Stripe's id and status on a claimed refund and bring the order's status up to date."""
    from shop.money import format_money

    with transaction.atomic():
        order, refund = order_and_refund_lock(refund_id=refund_id)
        # The webhook may have recorded this refund already, while we waited for Stripe's answer.
        Refund.objects.filter(stripe_refund_id=stripe_refund_id).exclude(pk=refund.pk).delete()
        refund.stripe_refund_id = stripe_refund_id
        refund.status = status if status in Refund.Status.values else Refund.Status.PENDING
        refund.save(update_fields=["stripe_refund_id", "status"])
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.REFUND,
            message=f"Refunded {format_money(refund.amount, refund.currency)}: {refund.reason}"[:500],
            actor_id=refund.created_by_id,
        )
        _order_refund_status(order)
        return refund


def _order_refund_status(order: Order) -> None:
    """Move a locked order to refunded / partially refunded by the money we keep (received − refunded)."""
    received = (
        Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).aggregate(
            total=Sum("amount_received")
        )["total"]
        or 0
    )
    order_payment_settle(order, received=received, kept=received - _refunded(order=order))


def refund_record(
    *,
    payment_intent_id: str,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    status: str,
    reason: str = "",
    created_by_id: int | None = None,
) -> Refund | None:
    """Record a refund Stripe reports (once, by its id) and bring the order's status up to date.

    Pass the refund as read back from Stripe, never as an event's body claims it.
    The amount recorded is capped at what is left of what Stripe received for the
    payment; a refund in another currency or beyond the payment is not recorded
    as such, and the order is flagged for staff with what Stripe reported.
    Return None when the payment is not ours or nothing could be recorded.
    """
    with transaction.atomic():
        order, payment = order_and_payment_lock(payment_intent_id=payment_intent_id)
        if order is None:
            return None
        known_status = status if status in Refund.Status.values else Refund.Status.PENDING
        refund = Refund.objects.filter(stripe_refund_id=stripe_refund_id).first()
        if refund is None:
            refund = _refund_new(
                order,
                payment,
                stripe_refund_id=stripe_refund_id,
                amount=amount,
                currency=currency,
                status=known_status,
                reason=reason,
                created_by_id=created_by_id,
            )
            if refund is None:
                return None
        elif refund.status != known_status:
            refund.status = known_status
            refund.save(update_fields=["status"])
        _order_refund_status(order)
        return refund


def _refund_new(
    order: Order,
    payment: Payment,
    *,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    status: str,
    reason: str,
    created_by_id: int | None,
) -> Refund | None:
    """Record a refund Stripe reports on a locked order's payment, capped at what is left of it.

    Return None (and flag the order) when nothing can be recorded.
    """
    from shop.money import format_money

    claimed = f"{amount} {currency.upper()}"
    if currency.upper() != payment.currency:
        order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed} on a payment in "
            f"{payment.currency}: not recorded, check it in Stripe.",
        )
        return None
    recorded_amount = min(amount, payment.amount_received - _refunded_by_stripe(payment))
    if recorded_amount <= 0:
        order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed}, but nothing is left of the "
            f"payment to refund: not recorded, check it in Stripe.",
        )
        return None
    refund = Refund.objects.create(
        stripe_refund_id=stripe_refund_id,
        order=order,
        payment=payment,
        amount=recorded_amount,
        tax=refund_tax_share(order, recorded_amount),
        currency=payment.currency,
        status=status,
        reason=reason[:200],
        created_by_id=created_by_id,
    )
    recorded = format_money(recorded_amount, payment.currency)
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.REFUND, message=f"Refund {stripe_refund_id} of {recorded} recorded"
    )
    if recorded_amount < amount:
        order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed}, more than is left of the "
            f"payment: recorded {recorded}, check it in Stripe.",
        )
    return refund


def _refunded_by_stripe(payment: Payment) -> int:
    """Return what Stripe has refunded or is refunding on a payment, by the refunds we recorded from it.

    A claim still waiting for Stripe's answer is left out: its refund is the one
    being recorded, or it will be abandoned.
    """
    live = Refund.objects.filter(
        payment=payment,
        stripe_refund_id__isnull=False,
        status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED],
    )
    return live.aggregate(total=Sum("amount"))["total"] or 0


arefund_record = sync_to_async(refund_record)
