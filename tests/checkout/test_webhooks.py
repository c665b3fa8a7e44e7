"""Stripe webhooks: verified, stored once, applied once, in any order."""

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import stripe
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from checkout.models import Order, Payment, Refund, WebhookEvent
from checkout.webhooks import HANDLERS
from inventory.models import Reservation, Stock
from inventory.services import reservations_expire
from tests.helpers import SECRET, deliver, event, pay_behind_our_back, stripe_api


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def confirmation_tasks() -> int:
    return DBTaskResult.objects.filter(task_path="checkout.emails.send_order_confirmation").count()


def test_succeeded_delivered_ten_times_pays_once(outside, client, order, jumper):
    intent = pay_behind_our_back(outside, client, order)
    body = event("payment_intent.succeeded", intent)

    responses = [deliver(client, body) for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10
    assert responses[0].json()["outcome"] == "payment succeeded; order paid"
    assert {r.json()["outcome"] for r in responses[1:]} == {"duplicate"}
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is not None
    assert stock(jumper) == (2, 0)
    assert Reservation.objects.get().status == "committed"
    stored = WebhookEvent.objects.get()
    assert (stored.type, stored.attempts, stored.error) == ("payment_intent.succeeded", 1, "")
    assert stored.processed_at is not None
    assert confirmation_tasks() == 1

    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == f"Your Northwind Supply order {order.number} is confirmed"
    assert "1 × Merino Jumper (M)  £65.00" in message.body and "Total paid: £69.95" in message.body
    assert f"See your order at any time: http://127.0.0.1:8000/order/{order.public_token}/" in message.body
    assert message.alternatives[0].mimetype == "text/html"
    assert "Thank you for your order" in message.alternatives[0].content


def test_return_page_and_webhook_end_in_one_state(outside, client, order, jumper):
    intent = pay_behind_our_back(outside, client, order)
    client.get(f"/order/{order.public_token}/return/")
    deliver(client, event("payment_intent.succeeded", intent))
    client.get(f"/order/{order.public_token}/return/")

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert stock(jumper) == (2, 0)
    assert confirmation_tasks() == 1


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        (lambda body, headers: (body, {"Stripe-Signature": "t=1,v1=forged"}), 400, "invalid_signature"),
        (lambda body, headers: (body, {}), 400, "invalid_signature"),
        (lambda body, headers: (body + b" ", headers), 400, "invalid_signature"),
    ],
)
def test_forged_or_altered_events_leave_no_trace(outside, client, order, mutate, status, error):
    body = json.dumps(
        event("payment_intent.succeeded", {"id": order.payments.get().payment_intent_id})
    ).encode()
    headers = {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)}
    body, headers = mutate(body, headers)

    response = client.post("/webhooks/stripe/", data=body, content_type="application/json", headers=headers)

    assert response.status_code == status and response.json()["error"] == error
    assert not WebhookEvent.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING


def test_wrong_secret_and_stale_timestamp_are_refused(outside, client, order):
    body = event("payment_intent.succeeded", {"id": "pi_x"})
    assert deliver(client, body, secret="whsec_someone_else").status_code == 400
    assert deliver(client, body, timestamp=int(time.time()) - 301).status_code == 400
    assert deliver(client, body, timestamp=int(time.time()) - 200).status_code == 200
    assert WebhookEvent.objects.count() == 1


NO_DATA, NO_ID = "The event has no data.object.", "The event has no id."


@pytest.mark.parametrize(
    ("payload", "error", "detail"),
    [
        (b"not json", "invalid_json", "The body is not JSON."),
        (b"[1, 2]", "invalid_event", "The event must be a JSON object."),
        (b'{"id": "e1", "type": "payment_intent.succeeded"}', "invalid_event", NO_DATA),
        (b'{"type": "payment_intent.succeeded", "data": {"object": {}}}', "invalid_event", NO_ID),
        (b'{"id": "evt_1", "data": {"object": {}}}', "invalid_event", "The event has no type."),
        (b'{"id": "evt_1", "type": "x", "data": {"object": "nope"}}', "invalid_event", NO_DATA),
    ],
)
def test_malformed_signed_events_get_400_and_are_kept_as_refused(outside, client, payload, error, detail):
    for _ in range(2):
        response = deliver(client, payload)
        assert response.status_code == 400 and response.json() == {
            "error": error,
            "message": detail,
            "retryable": False,
        }
    refused = WebhookEvent.objects.get()
    assert (refused.type, refused.error, refused.attempts, refused.outcome) == (
        "refused delivery",
        f"Refused: {detail}",
        2,
        "refused (400)",
    )
    assert refused.payload["bytes"] == len(payload) and refused.processed_at is not None


def test_huge_body_and_wrong_method(outside, client):
    huge = event("payment_intent.succeeded", {"id": "pi_x", "pad": "x" * 300_000})
    assert deliver(client, huge).status_code == 413
    assert client.get("/webhooks/stripe/").status_code == 405
    assert client.put("/webhooks/stripe/").status_code == 405
    assert not WebhookEvent.objects.exists()


def test_events_for_payments_we_did_not_make_are_stored_and_ignored(outside, client, order):
    foreign = stripe_api(outside, "POST", "payment_intents", {"amount": 500, "currency": "gbp"})
    response = deliver(client, event("payment_intent.succeeded", foreign))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored: not a payment of ours"
    response = deliver(client, event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored: type not handled"
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["payment_intent.succeeded"]
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING


@pytest.mark.parametrize("field", ["total", "currency"])
def test_amount_or_currency_mismatch_flags_and_does_not_mark_paid(outside, client, order, jumper, field):
    if field == "total":
        Order.objects.filter(pk=order.pk).update(subtotal=order.subtotal + 100, total=order.total + 100)
    else:
        Order.objects.filter(pk=order.pk).update(currency="EUR")
    intent = pay_behind_our_back(outside, client, order)

    deliver(client, event("payment_intent.succeeded", intent))

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    assert order.is_flagged and "does not match the order total" in order.flag_reason
    assert stock(jumper) == (3, 1)
    assert confirmation_tasks() == 0


def test_failed_event_after_success_changes_nothing(outside, client, order, jumper):
    intent = pay_behind_our_back(outside, client, order)
    stale_failure = {**intent, "status": "requires_payment_method"}
    deliver(client, event("payment_intent.payment_failed", stale_failure))  # arrives first, out of date
    deliver(client, event("payment_intent.succeeded", intent))

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert stock(jumper) == (2, 0)


def test_declined_payment_is_recorded_and_the_order_stays_payable(outside, client, order, jumper):
    with pytest.raises(httpx.HTTPStatusError):
        pay_behind_our_back(outside, client, order, card="4000000000000341")
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")

    response = deliver(client, event("payment_intent.payment_failed", intent))

    assert response.json()["outcome"] == "payment requires_payment_method; order awaiting"
    payment = Payment.objects.get()
    assert payment.last_error == "Your card was declined. Please try another card."
    assert stock(jumper) == (3, 1)  # still held for the shopper's next try


def test_canceled_then_stale_succeeded_ends_canceled_with_stock_back(outside, client, order, jumper):
    intent_id = order.payments.get().payment_intent_id
    canceled = stripe_api(outside, "POST", f"payment_intents/{intent_id}/cancel")
    stale_success = {**canceled, "status": "succeeded"}

    for body in [
        event("payment_intent.succeeded", stale_success),
        event("payment_intent.canceled", canceled),
    ] * 3:
        assert deliver(client, body).status_code == 200

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "payment canceled"
    assert Reservation.objects.get().status == "released"
    assert stock(jumper) == (3, 0)


def test_payment_after_the_stock_was_sold_is_refunded_and_flagged(outside, client, order, jumper):
    reservations_expire(now=Reservation.objects.get().expires_at.replace(year=2100))
    Stock.objects.filter(variant=jumper).update(on_hand=0)  # sold elsewhere meanwhile
    intent = pay_behind_our_back(outside, client, order)

    deliver(client, event("payment_intent.succeeded", intent))

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.REFUNDED
    assert (
        order.is_flagged
        and "Paid after its stock was gone: refunded in full automatically." in order.flag_reason
    )
    refund = Refund.objects.get()
    assert (refund.amount, refund.status) == (order.total, "succeeded")
    assert stripe_api(outside, "GET", f"refunds/{refund.stripe_refund_id}")["amount"] == order.total
    assert stock(jumper) == (0, 0)


def test_refunds_partial_then_full(outside, client, order):
    intent = pay_behind_our_back(outside, client, order)
    deliver(client, event("payment_intent.succeeded", intent))
    first = stripe_api(outside, "POST", "refunds", {"payment_intent": intent["id"], "amount": 1000})
    charge = {
        "id": intent["latest_charge"]["id"],
        "object": "charge",
        "payment_intent": intent["id"],
        "currency": "gbp",
        "amount": order.total,
        "amount_refunded": 1000,
        "refunds": {"data": [first]},
    }

    for _ in range(10):
        deliver(client, event("charge.refunded", charge, event_id="evt_refund_1"))
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    assert list(Refund.objects.values_list("amount", flat=True)) == [1000]

    second = stripe_api(
        outside, "POST", "refunds", {"payment_intent": intent["id"], "amount": order.total - 1000}
    )
    charge = {**charge, "amount_refunded": order.total, "refunds": {"data": [second, first]}}
    deliver(client, event("charge.refunded", charge))
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.REFUNDED
    assert sorted(Refund.objects.values_list("amount", flat=True)) == sorted([1000, order.total - 1000])


def test_disputes_flag_the_order(outside, client, order):
    intent = pay_behind_our_back(outside, client, order)
    deliver(client, event("payment_intent.succeeded", intent))
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": intent["id"],
        "amount": order.total,
        "reason": "fraudulent",
        "status": "needs_response",
    }

    deliver(client, event("charge.dispute.created", dispute))
    deliver(client, event("charge.dispute.closed", {**dispute, "status": "won"}))

    # localstripe has no disputes: the flag says what the event claimed, unconfirmed.
    order.refresh_from_db()
    assert order.is_flagged
    assert order.flag_reason == (
        "Dispute dp_1 reported (fraudulent, 6995, needs_response) but Stripe does not confirm it: "
        "check it in Stripe. | "
        "Dispute dp_1 reported (fraudulent, 6995, won) but Stripe does not confirm it: check it in Stripe."
    )
    assert order.payment_status == Order.PaymentStatus.PAID


@pytest.mark.slow
def test_a_storm_of_the_same_event_is_applied_once(outside, client, order, jumper, threaded_shop):
    intent = pay_behind_our_back(outside, client, order)
    payload = json.dumps(event("payment_intent.succeeded", intent)).encode()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET)

    def post(_):
        return httpx.post(
            f"{threaded_shop.url}/webhooks/stripe/",
            content=payload,
            timeout=30,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))

    assert sorted({r.status_code for r in responses}) == [200]
    outcomes = [r.json()["outcome"] for r in responses]
    assert outcomes.count("payment succeeded; order paid") == 1
    assert set(outcomes) <= {"payment succeeded; order paid", "duplicate", "in progress"}
    assert WebhookEvent.objects.count() == 1
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert stock(jumper) == (2, 0)
    assert confirmation_tasks() == 1


@pytest.mark.slow
def test_localstripe_delivers_succeeded_and_the_order_becomes_paid(
    outside, client, order, jumper, threaded_shop
):
    out = io.StringIO()
    call_command("localstripe_register_webhook", shop_url=threaded_shop.url, stdout=out)
    assert out.getvalue() == (
        f"localstripe will deliver {', '.join(sorted(HANDLERS))} to {threaded_shop.url}/webhooks/stripe/\n"
    )
    try:
        pay_behind_our_back(outside, client, order)

        # Paid first, then the held stock committed: wait for both.
        deadline = time.monotonic() + 15
        while (
            time.monotonic() < deadline
            and not Order.objects.filter(
                pk=order.pk, payment_status="paid", stock_committed_at__isnull=False
            ).exists()
        ):
            time.sleep(0.1)
    finally:  # later tests send their own events: localstripe must not deliver to this shop
        httpx.post(
            f"{outside.STRIPE_API_BASE}/_config/webhooks/shop",
            json={"url": f"{threaded_shop.url}/webhooks/stripe/", "secret": SECRET, "events": []},
        ).raise_for_status()

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is not None
    assert WebhookEvent.objects.filter(type="payment_intent.succeeded").count() == 1
    assert stock(jumper) == (2, 0)
    assert confirmation_tasks() == 1
