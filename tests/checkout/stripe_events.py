"""Helpers for tests that talk to localstripe and send the shop signed Stripe events."""

import json
import secrets
import time

import httpx
import stripe

from checkout.models import Order, Payment

SECRET = "whsec_test_suite"


def stripe_api(settings, method: str, path: str, data: dict | None = None) -> dict:
    """Call localstripe's API directly, as Stripe's dashboard or another system would."""
    response = httpx.request(
        method,
        f"{settings.STRIPE_API_BASE}/v1/{path}",
        data=data,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def charge_in_stripe(settings, order: Order, *, amount: int | None = None) -> dict:
    """Charge the order's PaymentIntent with a test card straight through Stripe; return it.

    With `amount` the PaymentIntent is first changed to charge that instead of the order's total.
    """
    intent_id = Payment.objects.get(order=order).payment_intent_id
    update = {"payment_method": "pm_card_visa"}
    if amount is not None:
        update["amount"] = str(amount)
    stripe_api(settings, "POST", f"payment_intents/{intent_id}", update)
    return stripe_api(settings, "POST", f"payment_intents/{intent_id}/confirm")


def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def deliver(client, body: dict | bytes, *, secret: str = SECRET):
    """POST a body to the webhook endpoint, signed as Stripe signs it."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode("utf-8"), secret)
    return client.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )
