"""Stripe webhooks: verify, store once, apply once, in any order.

The signature is checked before anything is written. Each verified event is
stored once (unique on Stripe's event id). One delivery at a time claims an event
and applies it; a repeat of an applied event changes nothing. Handlers that
depend on order read the PaymentIntent back from Stripe and act on its current
state, so "succeeded then failed" and "canceled then succeeded" both end right.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import stripe
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from checkout import services
from checkout.clients import arelease_database_connection
from checkout.clients import stripe as stripe_api
from checkout.models import Payment, WebhookEvent
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)

# A delivery that claimed an event but never finished (a crash) is retried after this.
CLAIM_TIMEOUT = timedelta(minutes=5)


class InvalidEvent(ShopError):
    """A request that is not a usable Stripe event (bad signature, not JSON, fields missing)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def event_verify(*, payload: bytes, signature: str | None) -> dict:
    """Return the event in `payload` if its Stripe-Signature is valid and fresh; raise InvalidEvent."""
    if not signature:
        raise InvalidEvent("invalid_signature", "The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidEvent(
            "invalid_signature", "The Stripe-Signature header is not valid for this body."
        ) from error
    try:
        event = json.loads(text)
    except ValueError as error:
        raise InvalidEvent("invalid_json", "The body is not JSON.") from error
    if not isinstance(event, dict):
        raise InvalidEvent("invalid_event", "The event must be a JSON object.")
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
        raise InvalidEvent("invalid_event", "The event has no id.")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
        raise InvalidEvent("invalid_event", "The event has no type.")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidEvent("invalid_event", "The event has no data.object.")
    return event


async def aevent_store(event: dict) -> WebhookEvent:
    """Return the stored event, storing it the first time it is seen."""
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


async def aevent_apply(stored: WebhookEvent, *, force: bool = False) -> str:
    """Apply a stored event once. Return what happened, in a few words.

    With `force` (an operator's replay) an applied event is applied again; every
    handler is idempotent, so this repairs without double-counting.
    """
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
        await WebhookEvent.objects.filter(pk=stored.pk).aupdate(
            processing_started_at=None, error=f"{error.__class__.__name__}: {error}"[:2000]
        )
        logger.warning("webhook %s failed: %s", stored.stripe_event_id, error.__class__.__name__)
        raise
    except Exception as error:
        await WebhookEvent.objects.filter(pk=stored.pk).aupdate(
            processing_started_at=None, error=f"{error.__class__.__name__}: {error}"[:2000]
        )
        logger.exception("webhook %s crashed", stored.stripe_event_id)
        raise
    await WebhookEvent.objects.filter(pk=stored.pk).aupdate(
        processed_at=timezone.now(), processing_started_at=None, outcome=outcome[:300], error=""
    )
    return outcome


# Handlers: each returns a short outcome ---------------------------------------------


async def _payment_ours(payment_intent_id: object) -> bool:
    if not isinstance(payment_intent_id, str) or not payment_intent_id:
        return False
    return await Payment.objects.filter(payment_intent_id=payment_intent_id).aexists()


async def handle_payment_intent(obj: dict) -> str:
    """succeeded / payment_failed / processing / canceled: act on the PaymentIntent as it is now."""
    intent_id = obj.get("id")
    if not await _payment_ours(intent_id):
        return "ignored: not a payment of ours"
    await arelease_database_connection()
    intent = await stripe_api.payment_intent_retrieve(payment_intent_id=intent_id)
    order = await services.apayment_intent_apply(intent=intent)
    status = order.status if order else "unknown"
    return f"payment {intent.status}; order {status}"


async def handle_charge_refunded(obj: dict) -> str:
    intent_id = obj.get("payment_intent")
    if not await _payment_ours(intent_id):
        return "ignored: not a payment of ours"
    refunds = (obj.get("refunds") or {}).get("data") or []
    total = obj.get("amount_refunded")
    recorded = 0
    for refund in refunds:
        if not isinstance(refund, dict) or not refund.get("id") or not isinstance(refund.get("amount"), int):
            continue
        await services.arefund_record(
            payment_intent_id=intent_id,
            stripe_refund_id=refund["id"],
            amount=refund["amount"],
            currency=str(refund.get("currency") or obj.get("currency") or "").upper(),
            status=str(refund.get("status") or "succeeded"),
            reason=str(refund.get("reason") or "refunded in Stripe"),
        )
        recorded += 1
    return f"{recorded} refund(s) recorded, {total} refunded in total"


async def handle_dispute(obj: dict) -> str:
    intent_id = obj.get("payment_intent")
    if not await _payment_ours(intent_id):
        return "ignored: not a payment of ours"
    status = str(obj.get("status") or "")
    amount = obj.get("amount")
    if status in ("won", "lost", "warning_closed"):
        reason = f"Dispute {obj.get('id')} closed: {status}"
    else:
        reason = (
            f"Dispute {obj.get('id')} opened ({obj.get('reason') or 'no reason given'}, {amount} minor units)"
        )
    await services.aorder_flag_for_payment(payment_intent_id=intent_id, reason=reason)
    return reason


HANDLERS: dict[str, Callable[[dict], Awaitable[str]]] = {
    "payment_intent.succeeded": handle_payment_intent,
    "payment_intent.payment_failed": handle_payment_intent,
    "payment_intent.processing": handle_payment_intent,
    "payment_intent.canceled": handle_payment_intent,
    "payment_intent.requires_action": handle_payment_intent,
    "charge.refunded": handle_charge_refunded,
    "charge.dispute.created": handle_dispute,
    "charge.dispute.closed": handle_dispute,
}
