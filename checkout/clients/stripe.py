"""Stripe through the official SDK's async methods, as our own small dataclasses.

`STRIPE_API_BASE` points the SDK at a stand-in (localstripe) in development and
tests; empty means real Stripe, with no code change. Every call first gives back
the caller's database connection (`arelease_database_connection`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import stripe
from django.conf import settings

from checkout.clients import arelease_database_connection, shared_for_loop
from checkout.exceptions import PaymentDeclined, PaymentGatewayUnavailable, PaymentRejected

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str
    metadata: dict[str, str]
    decline_message: str = ""
    # What Stripe took (minor units, in `currency`): 0 until it succeeds, and what counts for refunds.
    amount_received: int = 0


@dataclass(frozen=True)
class SetupIntent:
    id: str
    status: str
    client_secret: str
    payment_method: str | None


def client() -> stripe.StripeClient:
    def make() -> stripe.StripeClient:
        options: dict = {}
        if settings.STRIPE_API_BASE:
            options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            http_client=stripe.HTTPXClient(timeout=settings.STRIPE_TIMEOUT, allow_sync_methods=False),
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            **options,
        )

    config = (
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )
    return shared_for_loop(("stripe", config), make)


def _payment_intent(obj: stripe.PaymentIntent | dict) -> PaymentIntent:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    error = data.get("last_payment_error") or {}
    return PaymentIntent(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        client_secret=data.get("client_secret") or "",
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        decline_message=(error.get("message") if isinstance(error, dict) else "") or "",
        amount_received=_amount_received(data),
    )


def _amount_received(data: dict) -> int:
    """Return the minor units Stripe reports taken for a PaymentIntent."""
    received = data.get("amount_received")
    if isinstance(received, int) and not isinstance(received, bool):
        return received
    if data.get("status") != "succeeded":
        return 0
    # localstripe has no amount_received: its expanded latest charge says what was taken.
    charge = data.get("latest_charge")
    if isinstance(charge, dict) and isinstance(charge.get("amount"), int):
        return int(charge["amount"])
    return int(data["amount"])


def _setup_intent(obj: stripe.SetupIntent) -> SetupIntent:
    data = obj.to_dict()
    payment_method = data.get("payment_method")
    if isinstance(payment_method, dict):
        payment_method = payment_method.get("id")
    return SetupIntent(
        id=data["id"],
        status=data["status"],
        client_secret=data.get("client_secret") or "",
        payment_method=payment_method,
    )


# What each call asks of Stripe, in staff terms, for the messages of its failures.
ACTION_NAMES = {
    "payment_intent.create": "new payment (PaymentIntent)",
    "payment_intent.retrieve": "lookup of the payment",
    "payment_intent.cancel": "cancellation of the payment",
    "payment_intent.confirm": "card payment",
    "payment_intent.list": "list of payments",
    "customer.create": "new customer",
    "setup_intent.create": "card set-up",
    "setup_intent.retrieve": "lookup of the card set-up",
    "refund.create": "refund",
    "event.list": "list of events",
}


def _translate(error: stripe.StripeError, action: str, *, subject: str = "") -> Exception:
    """Return our error for a Stripe SDK error: declines, outages and refusals kept apart.

    A timeout, a lost connection, a 5xx, 429 (rate limit) or 409 (the same request still
    in progress) is an outage: worth retrying. Any other 4xx is a refusal, final: the
    same request is refused again, so its message says what Stripe refused and why
    (`subject`: the id the request was about, named when Stripe does not know it).
    """
    what = ACTION_NAMES.get(action, action)
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(decline_text(error.user_message or str(error.code or "")))
    status = error.http_status or 0
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError)) or status in (409, 429):
        logger.warning("stripe %s: %s", action, error.__class__.__name__)
        return PaymentGatewayUnavailable(action=what, reason=_outage_reason(error))
    if isinstance(error, stripe.APIError) or status >= 500 or not status:
        logger.warning("stripe %s: server error %s", action, status)
        return PaymentGatewayUnavailable(action=what, reason=f"it answered {status or 'nothing usable'}")
    logger.error("stripe %s refused: %s %s", action, status, error.code)
    detail = (error.user_message or "").strip().rstrip(".") or f"HTTP {status}"
    if status == 404 and subject and subject not in detail:
        thing = "card set-up" if subject.startswith("seti_") else "payment"
        detail = f"no such {thing} ({subject}): {detail}"
    if error.code and error.code not in detail:
        detail = f"{detail} ({error.code})"
    return PaymentRejected(action=what, detail=detail)


def _outage_reason(error: stripe.StripeError) -> str:
    if isinstance(error, stripe.APIConnectionError):
        return "no connection or no answer in time"
    if isinstance(error, stripe.RateLimitError) or error.http_status == 429:
        return "too many requests just now"
    return "the same request is still in progress"


def decline_text(message: str) -> str:
    """Return what the shopper reads when a card is refused, with the bank's reason if given."""
    message = (message or "").strip().rstrip(".")
    if not message:
        return PaymentDeclined.user_message
    if message.lower().startswith("your card"):
        return f"{message}. Please try another card."
    return f"Your card was declined: {message}. Please try another card."


@asynccontextmanager
async def stripe_call(action: str, *, subject: str = "") -> AsyncIterator[None]:
    """Give back the database connection, then turn a Stripe SDK error raised inside into ours."""
    await arelease_database_connection()
    try:
        yield
    except stripe.StripeError as error:
        raise _translate(error, action, subject=subject) from error


async def list_pages(
    action: str, list_async: Callable[[dict], Awaitable], params: dict, *, created_since: int = 0
) -> list[dict]:
    """Return the items of every page of a Stripe list, created at or after `created_since`.

    Stripe lists newest first: once a page reaches past `created_since`, only older pages follow.
    """
    items: list[dict] = []
    async with stripe_call(action):
        while True:
            data = (await list_async(params)).to_dict()
            batch = data.get("data") or []
            created = [int(item.get("created") or 0) for item in batch]
            items.extend(item for item, when in zip(batch, created, strict=True) if when >= created_since)
            if not data.get("has_more") or not batch:
                return items
            if created[0] >= created[-1] and created[-1] < created_since:
                return items
            params = {**params, "starting_after": batch[-1]["id"]}


async def payment_intent_create(
    *, amount: int, currency: str, order_number: str, idempotency_key: str
) -> PaymentIntent:
    """Create the order's PaymentIntent (not yet confirmed: the card comes later)."""
    async with stripe_call("payment_intent.create"):
        obj = await client().v1.payment_intents.create_async(
            {
                "amount": amount,
                "currency": currency.lower(),
                "payment_method_types": ["card"],
                "metadata": {"order_number": order_number},
            },
            {"idempotency_key": idempotency_key},
        )
    return _payment_intent(obj)


async def payment_intent_retrieve(*, payment_intent_id: str) -> PaymentIntent:
    async with stripe_call("payment_intent.retrieve"):
        obj = await client().v1.payment_intents.retrieve_async(payment_intent_id)
    return _payment_intent(obj)


async def payment_intent_cancel(*, payment_intent_id: str, idempotency_key: str) -> PaymentIntent:
    async with stripe_call("payment_intent.cancel"):
        obj = await client().v1.payment_intents.cancel_async(
            payment_intent_id, options={"idempotency_key": idempotency_key}
        )
    return _payment_intent(obj)


async def payment_intent_pay(
    *, payment_intent_id: str, customer_id: str, payment_method_id: str, idempotency_key: str
) -> PaymentIntent:
    """Attach the card to the PaymentIntent and confirm it.

    Return the PaymentIntent, which may need a 3-D Secure step (`requires_action`);
    raise PaymentDeclined when the card is refused.
    """
    async with stripe_call("payment_intent.confirm"):
        await client().v1.payment_intents.update_async(
            payment_intent_id,
            {"customer": customer_id, "payment_method": payment_method_id},
            {"idempotency_key": f"{idempotency_key}-update"},
        )
        obj = await client().v1.payment_intents.confirm_async(
            payment_intent_id, options={"idempotency_key": f"{idempotency_key}-confirm"}
        )
    return _payment_intent(obj)


async def customer_create(*, email: str, order_number: str, idempotency_key: str) -> str:
    """Create a Customer for the order's card and return its id."""
    async with stripe_call("customer.create"):
        obj = await client().v1.customers.create_async(
            {"email": email, "metadata": {"order_number": order_number}},
            {"idempotency_key": idempotency_key},
        )
    return obj["id"]


async def setup_intent_create(*, customer_id: str, idempotency_key: str) -> SetupIntent:
    """Create a SetupIntent through which the browser collects the card (and any 3-D Secure)."""
    async with stripe_call("setup_intent.create"):
        obj = await client().v1.setup_intents.create_async(
            {"customer": customer_id, "payment_method_types": ["card"], "usage": "on_session"},
            {"idempotency_key": idempotency_key},
        )
    return _setup_intent(obj)


async def setup_intent_retrieve(*, setup_intent_id: str) -> SetupIntent:
    async with stripe_call("setup_intent.retrieve"):
        obj = await client().v1.setup_intents.retrieve_async(setup_intent_id)
    return _setup_intent(obj)


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int
    currency: str
    status: str
    payment_intent: str
    charge: str = ""


def _id_of(value: object) -> str:
    """Return the id of a field Stripe gives either as an id or as the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _refund(obj: stripe.Refund | dict) -> Refund:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return Refund(
        id=data["id"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        status=str(data.get("status") or "succeeded"),
        payment_intent=_id_of(data.get("payment_intent")),
        charge=_id_of(data.get("charge")),
    )


async def refund_create(*, payment_intent_id: str, amount: int, idempotency_key: str) -> Refund:
    """Refund `amount` minor units of a succeeded PaymentIntent."""
    async with stripe_call("refund.create", subject=payment_intent_id):
        obj = await client().v1.refunds.create_async(
            {"payment_intent": payment_intent_id, "amount": amount}, {"idempotency_key": idempotency_key}
        )
    return _refund(obj)


async def payment_intents_since(*, created_since: int, limit: int = 100) -> list[PaymentIntent]:
    """Return every PaymentIntent created at or after the Unix time `created_since`, following pages."""
    items = await list_pages(
        "payment_intent.list",
        client().v1.payment_intents.list_async,
        {"limit": limit},
        created_since=created_since,
    )
    return [_payment_intent(item) for item in items]


async def events_since(*, created_since: int, limit: int = 100) -> list[dict]:
    """Return Stripe's events created at or after the Unix time `created_since`, as plain dicts."""
    return await list_pages(
        "event.list", client().v1.events.list_async, {"limit": limit}, created_since=created_since
    )
