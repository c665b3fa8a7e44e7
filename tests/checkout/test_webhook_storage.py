"""Signed events that cannot be stored as sent: kept cleaned, or refused with a 400 staff can see.

Stripe retries any delivery that is not answered 2xx for three days; one the shop
answers 500 every time is never recorded and never stops.
"""

import json

import pytest
from django.test import Client

from checkout.models import Order, WebhookEvent
from tests.factories import UserFactory
from tests.helpers import deliver, event


@pytest.fixture
def staff(transactional_db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return client


def refused() -> list[tuple[str, str, int]]:
    return list(WebhookEvent.objects.values_list("type", "error", "attempts"))


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"], ids=["nul", "lone-surrogate"])
def test_text_postgresql_cannot_store_is_replaced_and_the_event_kept(outside, client, bad):
    body = event(
        "payment_intent.succeeded", {"id": f"pi_x{bad}", "metadata": {f"k{bad}": f"v{bad}"}}, "evt_1"
    )
    payload = json.dumps(body).encode()  # ensure_ascii: the characters travel as \u escapes

    response = deliver(client, payload)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "event": "evt_1", "outcome": "ignored: not a payment of ours"}
    stored = WebhookEvent.objects.get()
    obj = stored.payload["data"]["object"]
    assert obj["id"].startswith("pi_x\ufffd") and "\ufffd" in next(iter(obj["metadata"]))
    assert (stored.outcome, stored.error) == ("ignored: not a payment of ours", "")


@pytest.mark.parametrize("depth", [100, 5000], ids=["deep", "past-the-parser"])
def test_a_deeply_nested_body_is_refused_and_shown_to_staff(outside, client, staff, depth):
    nested = "[" * depth + "]" * depth
    payload = (
        '{"id": "evt_deep", "type": "payment_intent.succeeded", "data": {"object": {"x": ' + nested + "}}}"
    ).encode()

    responses = [deliver(client, payload) for _ in range(2)]

    detail = "The body nests deeper than 32 levels."
    assert [r.status_code for r in responses] == [400, 400]
    assert responses[0].json() == {"error": "unreadable_event", "message": detail, "retryable": False}
    assert refused() == [("refused delivery", f"Refused: {detail}", 2)]
    home = staff.get("/dashboard/")
    assert home.status_code == 200
    events = home.content.decode().split('id="events-heading"')[1]
    assert "<td>refused delivery</td>" in events
    assert (
        f'<strong class="out">Refused: {detail}</strong> <span class="muted">(2 deliveries, answered 400)'
        in events
    )
    assert "Replay" not in events  # there is nothing to apply


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (
            b'{"id": "evt_1", "type": "charge.refunded", "data": {"object": {"amount": NaN}}}',
            "The body holds NaN, which is not JSON.",
        ),
        (
            b'{"id": "evt_1", "type": "charge.refunded", "data": {"object": {"amount": 1e400}}}',
            "The body holds a number too large to store (1e400).",
        ),
        (json.dumps(event("charge.refunded", {}, "evt_" + "x" * 300)).encode(), "The event has no id."),
        (json.dumps({**event("charge.refunded", {}), "type": "t" * 101}).encode(), "The event has no type."),
    ],
    ids=["nan", "infinite", "huge-id", "huge-type"],
)
def test_unusable_signed_events_are_refused_with_400_and_kept(outside, client, payload, detail):
    response = deliver(client, payload)

    assert response.status_code == 400 and response.json()["message"] == detail
    assert refused() == [("refused delivery", f"Refused: {detail}", 1)]


@pytest.mark.parametrize(
    ("event_type", "obj", "outcome"),
    [
        ("payment_intent.succeeded", {"id": 123}, "ignored: not a payment of ours"),
        ("payment_intent.succeeded", {"id": ["pi_1"]}, "ignored: not a payment of ours"),
        ("payment_intent.succeeded", {"id": {"nested": True}}, "ignored: not a payment of ours"),
        ("payment_intent.succeeded", {"id": "pi_" + "x" * 5000}, "ignored: not a payment of ours"),
        (
            "charge.refunded",
            {"object": "charge", "id": "ch_1", "payment_intent": ["pi"]},
            "ignored: not a payment of ours",
        ),
        (
            "charge.refunded",
            {"object": "charge", "refunds": "lots", "payment_intent": None},
            "ignored: not a payment of ours",
        ),
        ("charge.refund.updated", {"object": "refund", "charge": 7}, "ignored: not a payment of ours"),
        ("charge.dispute.created", {"id": 5, "payment_intent": {"id": 9}}, "ignored: not a payment of ours"),
    ],
)
def test_wrong_types_in_fields_are_ignored_not_a_500(outside, client, order, event_type, obj, outcome):
    response = deliver(client, event(event_type, obj, "evt_odd"))

    assert response.status_code == 200 and response.json()["outcome"] == outcome
    order.refresh_from_db()
    assert (order.payment_status, order.is_flagged) == (Order.PaymentStatus.AWAITING, False)


def test_our_payment_with_odd_fields_elsewhere_still_applies(outside, client, order):
    intent_id = order.payments.get().payment_intent_id
    odd = {"id": intent_id, "object": "charge", "payment_intent": intent_id, "refunds": "x", "amount": "lots"}

    response = deliver(client, event("charge.refunded", odd))

    # The charge is named by the body, but Stripe has no charge of that id.
    assert response.status_code == 200
    assert response.json()["outcome"] == f"ignored: Stripe has no charge {intent_id} of ours"

    dispute = {"id": "dp_1", "payment_intent": intent_id, "amount": "lots", "reason": ["x"], "currency": 5}
    response = deliver(client, event("charge.dispute.created", dispute))

    reason = (
        "Dispute dp_1 reported (no reason given, no amount, no status) but Stripe does not confirm it: "
        "check it in Stripe."
    )
    assert response.status_code == 200 and response.json()["outcome"] == reason


def test_types_the_shop_does_not_handle_are_acknowledged_not_kept_nor_listed(outside, client, staff):
    WebhookEvent.objects.create(  # kept before the shop stopped keeping them
        stripe_event_id="evt_old_customer", type="customer.created", payload={}, outcome="ignored"
    )
    WebhookEvent.objects.create(stripe_event_id="evt_handled", type="charge.refunded", payload={})

    response = deliver(client, event("customer.created", {"id": "cus_1"}, "evt_customer"))

    assert response.status_code == 200 and response.json()["outcome"] == "ignored: type not handled"
    assert not WebhookEvent.objects.filter(stripe_event_id="evt_customer").exists()
    events = staff.get("/dashboard/").content.decode().split('id="events-heading"')[1]
    assert "evt_handled" in events and "Replay" in events
    assert "evt_old_customer" not in events and "customer.created" not in events
