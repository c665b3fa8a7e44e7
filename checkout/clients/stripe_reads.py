"""Reading back from Stripe what a webhook event only names: a payment's refunds, a charge, a dispute.

An event's body is never trusted for money; these return what Stripe holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import stripe

from checkout.clients import arelease_database_connection
from checkout.clients.stripe import Refund, _id_of, _refund, _translate, client, list_pages


async def refunds_of_payment_intent(*, payment_intent_id: str, limit: int = 100) -> list[Refund]:
    """Return every refund Stripe holds for a PaymentIntent, following pages."""
    params = {"payment_intent": payment_intent_id, "limit": limit}
    return [_refund(item) for item in await list_pages("refund.list", client().v1.refunds.list_async, params)]


@dataclass(frozen=True)
class Charge:
    id: str
    payment_intent: str
    amount: int
    currency: str


async def _retrieved(action: str, retrieve_async: Callable[[str], Awaitable], object_id: str) -> dict | None:
    """Return the object Stripe holds under `object_id` as a dict, or None if Stripe has none."""
    await arelease_database_connection()
    try:
        return (await retrieve_async(object_id)).to_dict()
    except stripe.StripeError as error:
        if error.http_status == 404:
            return None
        raise _translate(error, action) from error


async def charge_retrieve(*, charge_id: str) -> Charge | None:
    """Return the charge as Stripe holds it, or None if Stripe has no such charge."""
    data = await _retrieved("charge.retrieve", client().v1.charges.retrieve_async, charge_id)
    if data is None:
        return None
    return Charge(
        id=data["id"],
        payment_intent=_id_of(data.get("payment_intent")),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
    )


@dataclass(frozen=True)
class Dispute:
    id: str
    payment_intent: str
    amount: int
    currency: str
    status: str
    reason: str


async def dispute_retrieve(*, dispute_id: str) -> Dispute | None:
    """Return the dispute as Stripe holds it, or None if Stripe has no such dispute.

    localstripe has no disputes at all: there every dispute is None.
    """
    data = await _retrieved("dispute.retrieve", client().v1.disputes.retrieve_async, dispute_id)
    if data is None:
        return None
    return Dispute(
        id=data["id"],
        payment_intent=_id_of(data.get("payment_intent")),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        status=str(data.get("status") or ""),
        reason=str(data.get("reason") or ""),
    )
