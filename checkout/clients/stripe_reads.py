"""Reading back from Stripe what a webhook event only names: a payment's refunds, a charge, a dispute.

An event's body is never trusted for money; these return what Stripe holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from checkout.clients import arelease_database_connection
from checkout.clients.stripe import Refund, _id_of, _refund, _translate, client


async def refunds_of_payment_intent(*, payment_intent_id: str, limit: int = 100) -> list[Refund]:
    """Return every refund Stripe holds for a PaymentIntent, following pages."""
    await arelease_database_connection()
    refunds: list[Refund] = []
    params: dict = {"payment_intent": payment_intent_id, "limit": limit}
    while True:
        try:
            page = await client().v1.refunds.list_async(params)
        except stripe.StripeError as error:
            raise _translate(error, "refund.list") from error
        data = page.to_dict()
        batch = data.get("data") or []
        refunds.extend(_refund(item) for item in batch)
        if not data.get("has_more") or not batch:
            return refunds
        params = {**params, "starting_after": batch[-1]["id"]}


@dataclass(frozen=True)
class Charge:
    id: str
    payment_intent: str
    amount: int
    currency: str


def _not_found(error: stripe.StripeError) -> bool:
    return error.http_status == 404


async def charge_retrieve(*, charge_id: str) -> Charge | None:
    """Return the charge as Stripe holds it, or None if Stripe has no such charge."""
    await arelease_database_connection()
    try:
        obj = await client().v1.charges.retrieve_async(charge_id)
    except stripe.StripeError as error:
        if _not_found(error):
            return None
        raise _translate(error, "charge.retrieve") from error
    data = obj.to_dict()
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
    await arelease_database_connection()
    try:
        obj = await client().v1.disputes.retrieve_async(dispute_id)
    except stripe.StripeError as error:
        if _not_found(error):
            return None
        raise _translate(error, "dispute.retrieve") from error
    data = obj.to_dict()
    return Dispute(
        id=data["id"],
        payment_intent=_id_of(data.get("payment_intent")),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        status=str(data.get("status") or ""),
        reason=str(data.get("reason") or ""),
    )
