"""Repair our records from what Stripe says happened, for when webhooks were missed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from checkout import webhooks
from checkout.clients import stripe as stripe_api
from checkout.models import Order, Payment, WebhookEvent
from checkout.services.payment_outcomes import apayment_intent_apply, aunrecorded_payment_resolve

PAYMENT_EVENT_PREFIXES = ("payment_intent.", "charge.")


@dataclass
class ReconcileReport:
    dry_run: bool
    checked_intents: int = 0
    checked_events: int = 0
    actions: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def add(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        self.actions.append(text)


def _expected_order_status(intent: stripe_api.PaymentIntent, payment: Payment, order: Order) -> str | None:
    """Return what the order should become given this PaymentIntent, or None if it is consistent."""
    if intent.status == "succeeded" and order.is_payable:
        return "paid"
    if intent.status == "canceled" and order.is_payable and payment.status != "canceled":
        return "canceled"
    if intent.status != payment.status and payment.status != Payment.Status.SUCCEEDED:
        return f"payment {intent.status}"
    return None


async def areconcile(
    *, since: datetime, dry_run: bool, progress: Callable[[int], None] | None = None
) -> ReconcileReport:
    """Compare Stripe's PaymentIntents and events since `since` with ours and repair differences.

    Missed events are stored and applied like a webhook delivery; PaymentIntents
    whose state disagrees with ours are applied as Stripe reports them now.
    With `dry_run` nothing is written: the report says what would change.
    """
    report = ReconcileReport(dry_run=dry_run)
    created_since = int(since.timestamp())
    events = [
        e
        for e in await stripe_api.events_since(created_since=created_since)
        if str(e.get("type", "")).startswith(PAYMENT_EVENT_PREFIXES)
    ]
    intents = await stripe_api.payment_intents_since(created_since=created_since)
    report.checked_events, report.checked_intents = len(events), len(intents)

    await _amissed_events_apply(events, report, progress)
    for intent in intents:
        await _aintent_reconcile(intent, report)
        if progress:
            progress(1)
    return report


async def _amissed_events_apply(
    events: list[dict], report: ReconcileReport, progress: Callable[[int], None] | None
) -> None:
    """Store and apply, like a webhook delivery, each event we never applied."""
    known = {
        event_id
        async for event_id in WebhookEvent.objects.filter(
            stripe_event_id__in=[e["id"] for e in events], processed_at__isnull=False
        ).values_list("stripe_event_id", flat=True)
    }
    for event in events:
        if event["id"] not in known:
            if report.dry_run:
                report.add("missed events", f"would apply missed event {event['id']} ({event['type']})")
            else:
                stored = await webhooks.aevent_store(event)
                outcome = await webhooks.aevent_apply(stored)
                report.add(
                    "missed events", f"applied missed event {event['id']} ({event['type']}): {outcome}"
                )
        if progress:
            progress(1)


async def _aintent_reconcile(intent: stripe_api.PaymentIntent, report: ReconcileReport) -> None:
    """Apply a PaymentIntent whose state disagrees with ours; refund a succeeded one we never recorded."""
    dry_run = report.dry_run
    payment = await Payment.objects.select_related("order").filter(payment_intent_id=intent.id).afirst()
    if payment is None:
        number = intent.metadata.get("order_number")
        if number and intent.status == "succeeded" and await Order.objects.filter(number=number).aexists():
            report.add(
                "unrecorded payments",
                f"{'would refund' if dry_run else 'refunded'} unrecorded "
                f"succeeded payment {intent.id} for order {number}",
            )
            if not dry_run:
                await aunrecorded_payment_resolve(order_number=number, intent=intent)
        return
    expected = _expected_order_status(intent, payment, payment.order)
    if expected:
        verb = "would set" if dry_run else "set"
        report.add("orders repaired", f"{verb} order {payment.order.number}: {expected} ({intent.id})")
        if not dry_run:
            await apayment_intent_apply(intent=intent)
