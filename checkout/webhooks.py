"""Stripe webhooks: verify, store once, apply once, in any order.

The signature is checked before anything is written. Each verified event of a
type we handle is stored once (unique on Stripe's event id); other types are
acknowledged and not kept. A signed body we cannot use is refused with a 400
and kept as a refused delivery for staff. One delivery at a time claims an event
and applies it; a repeat of an applied event changes nothing.

An event's body is never trusted for money: handlers take only ids from it and
read the PaymentIntent, charge, refunds or dispute back from Stripe, acting on
what Stripe holds now, so "succeeded then failed" and "canceled then succeeded"
both end right and a forged amount changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import stripe
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from checkout.clients import stripe as stripe_api
from checkout.clients import stripe_reads
from checkout.models import Order, Payment, WebhookEvent
from checkout.services.orders import aorder_flag_for_payment
from checkout.services.payment_outcomes import apayment_intent_apply
from checkout.services.refunds import arefund_record
from checkout.webhook_payload import UnreadableBody, body_read, storable_text
from shop.exceptions import ShopError
from shop.money import format_money

logger = logging.getLogger(__name__)

# A delivery that claimed an event but never finished (a crash) is retried after this.
CLAIM_TIMEOUT = timedelta(minutes=5)

#: The type under which a signed delivery we refused is kept (never a Stripe type).
REFUSED_TYPE = "refused delivery"


class InvalidEvent(ShopError):
    """A request that is not a usable Stripe event (bad signature, not JSON, fields missing).

    `is_signed` is True when the signature was good: Stripe (or someone holding
    our secret) sent it, so the refusal is kept for staff.
    """

    status = 400

    def __init__(self, code: str, detail: str, *, is_signed: bool = False) -> None:
        super().__init__(detail)
        self.code = code
        self.is_signed = is_signed


class EventCrashed(ShopError):
    """Applying a stored event failed unexpectedly; it is kept with its error, to retry or replay."""

    status = 503
    code = "event_failed"
    retryable = True

    user_message = "Applying the event failed; it is kept with its error and can be replayed."


def _signature_check(payload: bytes, signature: str | None) -> None:
    if not signature:
        raise InvalidEvent("invalid_signature", "The Stripe-Signature header is missing.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidEvent(
            "invalid_signature", "The Stripe-Signature header is not valid for this body."
        ) from error


def event_verify(*, payload: bytes, signature: str | None) -> dict:
    """Return the event in `payload` if its Stripe-Signature is valid and fresh; raise InvalidEvent.

    The event returned is storable: text PostgreSQL cannot hold is replaced.
    """
    _signature_check(payload, signature)
    try:
        event = body_read(payload)
    except UnreadableBody as error:
        code = "invalid_json" if str(error) == "The body is not JSON." else "unreadable_event"
        raise InvalidEvent(code, str(error), is_signed=True) from error
    if not isinstance(event, dict):
        raise InvalidEvent("invalid_event", "The event must be a JSON object.", is_signed=True)
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
        raise InvalidEvent("invalid_event", "The event has no id.", is_signed=True)
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
        raise InvalidEvent("invalid_event", "The event has no type.", is_signed=True)
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidEvent("invalid_event", "The event has no data.object.", is_signed=True)
    return event


async def arefusal_record(*, payload: bytes, error: InvalidEvent) -> WebhookEvent:
    """Keep a signed delivery we refused, once per body, so staff see it among payment events."""
    digest = hashlib.sha256(payload).hexdigest()
    head = storable_text(payload[:500].decode("utf-8", "replace"))
    stored, created = await WebhookEvent.objects.aget_or_create(
        stripe_event_id=f"refused_{digest}",
        defaults={
            "type": REFUSED_TYPE,
            "payload": {"sha256": digest, "bytes": len(payload), "start": head},
            "processed_at": timezone.now(),
            "attempts": 1,
            "outcome": "refused (400)",
            "error": f"Refused: {error.user_message}"[:2000],
        },
    )
    if not created:
        await WebhookEvent.objects.filter(pk=stored.pk).aupdate(attempts=F("attempts") + 1)
    logger.warning("signed webhook refused: %s", error.code, extra={"sha256": digest})
    return stored


async def aevent_store(event: dict) -> WebhookEvent:
    """Return the stored event, storing it the first time it is seen.

    An event of a type we do not handle is returned unsaved: acknowledging it is
    all there is to do, and keeping it would bury the events that matter.
    """
    if event["type"] not in HANDLERS:
        return WebhookEvent(stripe_event_id=event["id"], type=event["type"], payload=event)
    stored, _created = await WebhookEvent.objects.aget_or_create(
        stripe_event_id=event["id"], defaults={"type": event["type"], "payload": event}
    )
    return stored


async def _aclaim(stored: WebhookEvent) -> bool:
    """Return True if this delivery may apply the event (nobody else is, and it is not applied yet)."""
    now = timezone.now()
    claimed = await (
        WebhookEvent.objects.filter(pk=stored.pk, processed_at__isnull=True)
        .filter(Q(processing_started_at__isnull=True) | Q(processing_started_at__lt=now - CLAIM_TIMEOUT))
        .aupdate(processing_started_at=now, attempts=F("attempts") + 1)
    )
    return claimed == 1


async def _afail(stored: WebhookEvent, error: Exception) -> None:
    await WebhookEvent.objects.filter(pk=stored.pk).aupdate(
        processing_started_at=None, error=storable_text(f"{error.__class__.__name__}: {error}")[:2000]
    )


async def aevent_apply(stored: WebhookEvent, *, force: bool = False) -> str:
    """Apply a stored event once. Return what happened, in a few words.

    With `force` (an operator's replay) an applied event is applied again; every
    handler is idempotent, so this repairs without double-counting. Raise a
    ShopError when it fails (kept with the event's error, to retry).
    """
    if stored.pk is None:  # a type we do not keep
        return "ignored: type not handled"
    if stored.type == REFUSED_TYPE:
        return "refused: not an event, nothing to apply"
    if force:
        await WebhookEvent.objects.filter(pk=stored.pk).aupdate(processed_at=None, processing_started_at=None)
    elif stored.processed_at is not None:
        return "duplicate"
    if not await _aclaim(stored):
        return "duplicate" if (await WebhookEvent.objects.aget(pk=stored.pk)).processed_at else "in progress"
    handler = HANDLERS.get(stored.type)
    try:
        outcome = await handler(stored.payload["data"]["object"]) if handler else "ignored: type not handled"
    except ShopError as error:
        await _afail(stored, error)
        logger.warning("webhook %s failed: %s", stored.stripe_event_id, error.__class__.__name__)
        raise
    except Exception as error:
        await _afail(stored, error)
        logger.exception("webhook %s crashed", stored.stripe_event_id)
        raise EventCrashed() from error
    await WebhookEvent.objects.filter(pk=stored.pk).aupdate(
        processed_at=timezone.now(), processing_started_at=None, outcome=outcome[:300], error=""
    )
    return outcome


# Handlers: each returns a short outcome ---------------------------------------------


def _id_in(obj: dict, field: str) -> str:
    """Return the id in `obj[field]`, given as an id or an expanded object; "" when there is none."""
    value = obj.get(field)
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else ""


async def _payment_ours(payment_intent_id: str) -> bool:
    if not payment_intent_id:
        return False
    return await Payment.objects.filter(payment_intent_id=payment_intent_id).aexists()


async def _aintent_apply(intent_id: str) -> str:
    intent = await stripe_api.payment_intent_retrieve(payment_intent_id=intent_id)
    order = await apayment_intent_apply(intent=intent)
    if order is None:
        return f"payment {intent.status}; order unknown"
    if order.status == Order.Status.OPEN:
        return f"payment {intent.status}; order {order.payment_status}"
    return f"payment {intent.status}; order {order.status}, {order.payment_status}"


async def handle_payment_intent(obj: dict) -> str:
    """succeeded / payment_failed / processing / canceled: act on the PaymentIntent as it is now."""
    intent_id = _id_in(obj, "id")
    if not await _payment_ours(intent_id):
        return "ignored: not a payment of ours"
    return await _aintent_apply(intent_id)


async def handle_refunds(obj: dict) -> str:
    """charge.refunded / charge.refund.updated: record the payment's refunds as Stripe holds them.

    The body names the charge; Stripe says which PaymentIntent it belongs to and
    what was refunded. The payment is brought up to date first, so a refund that
    arrives before its payment's success is still recorded.
    """
    charge_id = _id_in(obj, "id") if obj.get("object") == "charge" else _id_in(obj, "charge")
    if not await _payment_ours(_id_in(obj, "payment_intent")) or not charge_id:
        return "ignored: not a payment of ours"
    charge = await stripe_reads.charge_retrieve(charge_id=charge_id)
    if charge is None or not await _payment_ours(charge.payment_intent):
        return f"ignored: Stripe has no charge {charge_id} of ours"
    payment_outcome = "payment already recorded"
    if not await Payment.objects.filter(
        payment_intent_id=charge.payment_intent, status=Payment.Status.SUCCEEDED
    ).aexists():
        payment_outcome = await _aintent_apply(charge.payment_intent)
    refunds = await stripe_reads.refunds_of_payment_intent(payment_intent_id=charge.payment_intent)
    recorded = 0
    for refund in refunds:
        made = await arefund_record(
            payment_intent_id=charge.payment_intent,
            stripe_refund_id=refund.id,
            amount=refund.amount,
            currency=refund.currency,
            status=refund.status,
            reason="refunded in Stripe",
        )
        recorded += made is not None
    return f"{payment_outcome}; {recorded} of {len(refunds)} refund(s) in Stripe recorded"


def _claimed(obj: dict) -> str:
    """Return what a dispute event's body claims, for staff, in a few safe words."""
    reason = obj.get("reason") if isinstance(obj.get("reason"), str) else "no reason given"
    amount = obj.get("amount")
    currency = obj.get("currency") if isinstance(obj.get("currency"), str) else ""
    figure = f"{amount} {currency.upper()[:3]}".strip() if isinstance(amount, int) else "no amount"
    status = obj.get("status") if isinstance(obj.get("status"), str) else "no status"
    return f"{reason[:40]}, {figure[:30]}, {status[:30]}"


async def handle_dispute(obj: dict) -> str:
    """charge.dispute.*: flag the order with the dispute as Stripe holds it.

    A dispute Stripe does not know (localstripe has none at all) records nothing
    but a flag saying what the event claimed, for staff to check in Stripe.
    """
    dispute_id = _id_in(obj, "id")
    if not await _payment_ours(_id_in(obj, "payment_intent")) or not dispute_id:
        return "ignored: not a payment of ours"
    dispute = await stripe_reads.dispute_retrieve(dispute_id=dispute_id)
    if dispute is None:
        reason = (
            f"Dispute {dispute_id[:40]} reported ({_claimed(obj)}) but Stripe does not confirm it: "
            "check it in Stripe."
        )
        await aorder_flag_for_payment(payment_intent_id=_id_in(obj, "payment_intent"), reason=reason)
        return reason
    if not await _payment_ours(dispute.payment_intent):
        return f"ignored: Stripe's dispute {dispute.id} is not on a payment of ours"
    figure = format_money(dispute.amount, dispute.currency)
    if dispute.status in ("won", "lost", "warning_closed"):
        reason = f"Dispute {dispute.id} of {figure} closed: {dispute.status}"
    else:
        reason = f"Dispute {dispute.id} opened ({dispute.reason or 'no reason given'}, {figure})"
    await aorder_flag_for_payment(payment_intent_id=dispute.payment_intent, reason=reason)
    return reason


#: The event types the shop acts on: the single list Stripe's endpoint subscribes to.
HANDLERS: dict[str, Callable[[dict], Awaitable[str]]] = {
    "payment_intent.succeeded": handle_payment_intent,
    "payment_intent.payment_failed": handle_payment_intent,
    "payment_intent.processing": handle_payment_intent,
    "payment_intent.canceled": handle_payment_intent,
    "payment_intent.requires_action": handle_payment_intent,
    "charge.refunded": handle_refunds,
    "charge.refund.updated": handle_refunds,
    "charge.dispute.created": handle_dispute,
    "charge.dispute.closed": handle_dispute,
}
