"""Signed events whose body lies: money is recorded as Stripe holds it, never as the event claims.

The attacker holds the webhook secret; localstripe holds the truth. localstripe
never sends charge.* events, so they are built here and signed.
"""

import secrets

import pytest
from django.test import Client

from checkout.audit import audit_run
from checkout.models import Order, OrderEvent, Payment, Refund
from tests.audit import assert_audit_clean
from tests.factories import UserFactory
from tests.helpers import charge_in_stripe, deliver, event, stripe_api

TOTAL = 6995  # the `order` fixture: one jumper £65.00 and standard delivery £4.95, VAT included


@pytest.fixture
def staff(transactional_db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return client


@pytest.fixture
def paid(outside, client, order) -> dict:
    """The order paid in Stripe and the succeeded event applied; return the PaymentIntent."""
    intent = charge_in_stripe(outside, order)
    assert deliver(client, event("payment_intent.succeeded", intent)).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    return intent


def charge_body(intent: dict, **claims) -> dict:
    return {
        "id": intent["latest_charge"]["id"],
        "object": "charge",
        "payment_intent": intent["id"],
        "amount": TOTAL,
        "currency": "gbp",
        **claims,
    }


def refunds_recorded() -> list[tuple[str, int, str, str]]:
    return list(Refund.objects.order_by("pk").values_list("stripe_refund_id", "amount", "currency", "status"))


def test_a_forged_refund_amount_and_currency_record_what_stripe_holds(outside, client, order, paid):
    real = stripe_api(outside, "POST", "refunds", {"payment_intent": paid["id"], "amount": 1000})
    lie = charge_body(
        paid,
        amount_refunded=TOTAL * 10,
        currency="usd",
        refunds={"data": [{"id": real["id"], "amount": TOTAL * 10, "currency": "usd"}]},
    )

    response = deliver(client, event("charge.refunded", lie))

    assert response.status_code == 200
    assert response.json()["outcome"] == "payment already recorded; 1 of 1 refund(s) in Stripe recorded"
    assert refunds_recorded() == [(real["id"], 1000, "GBP", "succeeded")]
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED and not order.is_flagged
    assert_audit_clean()


def test_a_refund_id_stripe_does_not_hold_records_nothing(outside, client, order, paid):
    lie = charge_body(
        paid,
        amount_refunded=TOTAL,
        refunds={"data": [{"id": "re_forged", "amount": TOTAL, "currency": "gbp"}]},
    )

    response = deliver(client, event("charge.refunded", lie))

    assert response.json()["outcome"] == "payment already recorded; 0 of 0 refund(s) in Stripe recorded"
    assert refunds_recorded() == []
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and not order.is_flagged
    assert_audit_clean()


def test_a_charge_stripe_does_not_hold_changes_nothing(outside, client, order, paid):
    lie = charge_body(paid, id="ch_forged", amount_refunded=TOTAL)

    response = deliver(client, event("charge.refunded", lie))

    assert response.json()["outcome"] == "ignored: Stripe has no charge ch_forged of ours"
    assert refunds_recorded() == []
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert_audit_clean()


def test_a_refund_stripe_reports_beyond_the_payment_is_capped_and_flagged(outside, client, order, paid):
    # Real Stripe never refunds more than it took; localstripe does, standing in for a lying Stripe.
    huge = stripe_api(outside, "POST", "refunds", {"payment_intent": paid["id"], "amount": TOTAL * 10})

    deliver(client, event("charge.refunded", charge_body(paid, amount_refunded=TOTAL * 10)))

    assert refunds_recorded() == [(huge["id"], TOTAL, "GBP", "succeeded")]
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.REFUNDED
    assert order.flag_reason == (
        f"Stripe reports refund {huge['id']} of {TOTAL * 10} GBP, more than is left of the payment: "
        "recorded £69.95, check it in Stripe."
    )
    assert_audit_clean()


def test_a_refund_event_before_the_payment_event_records_both(outside, client, order):
    intent = charge_in_stripe(outside, order)  # the succeeded event has not come yet
    real = stripe_api(outside, "POST", "refunds", {"payment_intent": intent["id"], "amount": 500})

    response = deliver(client, event("charge.refunded", charge_body(intent)))

    assert response.json()["outcome"] == (
        "payment succeeded; order paid; 1 of 1 refund(s) in Stripe recorded"
    )
    assert refunds_recorded() == [(real["id"], 500, "GBP", "succeeded")]
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    assert_audit_clean()


def test_a_dispute_stripe_cannot_confirm_flags_what_was_claimed_and_records_no_money(
    outside, client, order, paid
):
    claim = {
        "id": "dp_forged",
        "object": "dispute",
        "payment_intent": paid["id"],
        "amount": TOTAL * 10,
        "currency": "usd",
        "reason": "fraudulent",
        "status": "lost",
    }

    response = deliver(client, event("charge.dispute.closed", claim))

    reason = (
        f"Dispute dp_forged reported (fraudulent, {TOTAL * 10} USD, lost) but Stripe does not confirm it: "
        "check it in Stripe."
    )
    assert response.status_code == 200 and response.json()["outcome"] == reason
    order.refresh_from_db()
    paid = Order.PaymentStatus.PAID
    assert (order.payment_status, order.is_flagged, order.flag_reason) == (paid, True, reason)
    assert refunds_recorded() == []
    assert Payment.objects.get().amount_received == TOTAL
    assert_audit_clean()


def test_a_failure_event_claiming_a_paid_payment_failed_changes_nothing(outside, client, order, paid):
    lie = {**paid, "status": "requires_payment_method", "last_payment_error": {"message": "forged"}}

    response = deliver(client, event("payment_intent.payment_failed", lie))

    assert response.json()["outcome"] == "payment succeeded; order paid"
    payment = Payment.objects.get()
    assert (payment.status, payment.last_error, payment.amount_received) == ("succeeded", "", TOTAL)
    assert_audit_clean()


# A payment of another amount than the order's ------------------------------------------------


def test_a_payment_for_another_amount_is_recorded_as_stripe_took_it(outside, client, staff, order):
    intent = charge_in_stripe(outside, order, amount=100)

    deliver(client, event("payment_intent.succeeded", intent))

    payment = Payment.objects.get()
    assert (payment.status, payment.amount, payment.amount_received, payment.currency) == (
        "succeeded",
        TOTAL,
        100,
        "GBP",
    )
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING and order.is_flagged
    assert (
        "Payment" in order.flag_reason
        and "of 100 GBP does not match the order total 6995" in order.flag_reason
    )
    page = staff.get(f"/dashboard/orders/{order.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "£1.00 received" in html and "£69.95 asked" in html
    assert "Amount (GBP, up to £1.00)" in html


def test_staff_can_refund_exactly_what_stripe_took_and_no_more(outside, client, staff, order):
    deliver(client, event("payment_intent.succeeded", charge_in_stripe(outside, order, amount=100)))
    events_before = OrderEvent.objects.count()

    too_much = staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {"amount": "1.01", "reason": "wrong amount", "request_key": secrets.token_hex(8)},
        follow=True,
    )

    assert too_much.status_code == 200
    assert "At most £1.00 can still be refunded." in too_much.content.decode()
    assert refunds_recorded() == [] and OrderEvent.objects.count() == events_before

    exact = staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {"amount": "1.00", "reason": "wrong amount", "request_key": secrets.token_hex(8)},
        follow=True,
    )

    # £1.00 of the order's £69.95 with £11.66 VAT in it: 100 × 1166 / 6995 = 16.67 -> £0.17 of VAT.
    assert f"Refunded £1.00 (of which VAT £0.17) on order {order.number}." in exact.content.decode()
    [(refund_id, amount, currency, status)] = refunds_recorded()
    assert (amount, currency, status) == (100, "GBP", "succeeded")
    assert stripe_api(outside, "GET", f"refunds/{refund_id}")["amount"] == 100
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    assert_audit_clean()


def test_the_audit_checks_refunds_against_what_stripe_received(outside, client, order):
    deliver(client, event("payment_intent.succeeded", charge_in_stripe(outside, order, amount=100)))
    payment = Payment.objects.get()
    Refund.objects.create(
        order=order, payment=payment, amount=500, currency="GBP", status="succeeded", stripe_refund_id="re_x"
    )

    problems = {result.name: result.problems for result in audit_run().failed}
    assert problems["refunds-within-payments"] == [
        f"Payment {payment.payment_intent_id} of order {order.number}: £5.00 refunded of £1.00 paid."
    ]
