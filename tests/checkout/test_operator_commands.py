"""stripe_replay and stripe_reconcile: operators repair what webhooks missed."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from checkout.models import Order, Payment, Refund, WebhookEvent
from inventory.models import Stock
from tests.helpers import deliver, event, pay_behind_our_back, stripe_api
from tests.servers import free_port


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_replay_applies_an_event_that_failed(outside, client, order, jumper):
    intent = pay_behind_our_back(outside, client, order)
    working_stripe = outside.STRIPE_API_BASE
    outside.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    outside.STRIPE_MAX_NETWORK_RETRIES = 0
    body = event("payment_intent.succeeded", intent, event_id="evt_replay_me")
    assert deliver(client, body).status_code == 503  # Stripe could not be read back: try later
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None and "PaymentGatewayUnavailable" in stored.error

    outside.STRIPE_API_BASE = working_stripe
    output = run("stripe_replay", "evt_replay_me")
    run("stripe_replay", "evt_replay_me")  # twice changes nothing more

    assert "payment_intent.succeeded evt_replay_me: payment succeeded; order paid" in output
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert Stock.objects.get(variant=jumper).on_hand == 2
    stored.refresh_from_db()
    assert stored.processed_at is not None and stored.error == ""


def test_replay_of_an_unknown_event(outside):
    with pytest.raises(CommandError, match="No stored event evt_nope"):
        run("stripe_replay", "evt_nope")


def test_reconcile_dry_run_reports_and_changes_nothing_then_repairs(outside, client, order, jumper):
    pay_behind_our_back(outside, client, order)  # paid, but the webhook never arrived

    dry = run("stripe_reconcile", "--since", "1h", "--dry-run")

    assert f"would set order {order.number}: paid" in dry
    assert "(dry run: nothing changed)" in dry
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING and not WebhookEvent.objects.exists()

    real = run("stripe_reconcile", "--since", "1h")

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert Stock.objects.get(variant=jumper).on_hand == 2
    assert "Checked" in real and "repaired" in real or "missed events" in real
    again = run("stripe_reconcile", "--since", "1h")
    assert "nothing to repair" in again


def test_reconcile_refunds_a_payment_we_never_recorded(outside, client, order):
    first = pay_behind_our_back(outside, client, order)
    deliver(client, event("payment_intent.succeeded", first))
    setup_customer = first["customer"]
    orphan = stripe_api(
        outside,
        "POST",
        "payment_intents",
        {
            "amount": order.total,
            "currency": "gbp",
            "customer": setup_customer,
            "payment_method": first["payment_method"],
            "confirm": "true",
            "metadata[order_number]": order.number,
        },
    )
    assert orphan["status"] == "succeeded"

    output = run("stripe_reconcile", "--since", "1h")

    assert f"refunded unrecorded succeeded payment {orphan['id']} for order {order.number}" in output
    refund = Refund.objects.get()
    assert refund.payment.payment_intent_id == orphan["id"] and refund.amount == order.total
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.is_flagged
    assert Payment.objects.filter(order=order).count() == 2


def test_reconcile_rejects_a_bad_since(outside):
    with pytest.raises(CommandError):
        call_command("stripe_reconcile", "--since", "yesterday-ish", stdout=StringIO(), stderr=StringIO())
