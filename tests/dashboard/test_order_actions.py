"""Staff actions on orders and stock, through real Stripe (localstripe) and the inventory API."""

import secrets

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from checkout.models import Order, Refund
from inventory.models import Stock, StockAdjustment
from tests.factories import UserFactory
from tests.helpers import GOOD_CARD, Browser, stripe_api


@pytest.fixture
def staff_user(transactional_db):
    return UserFactory(is_staff=True, email="sam@example.com")


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def paid_order(outside, client, order) -> Order:
    assert Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD).json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    return order


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.carrier,
        order.tracking_number,
        Refund.objects.filter(order=order).count(),
        order.events.count(),
    )


def refund(staff, order, amount: str, key: str | None = None, **extra):
    return staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {"amount": amount, "reason": "damaged", "request_key": key or secrets.token_hex(8), **extra},
        follow=True,
    )


def test_fulfil_records_who_and_e_mails_the_customer(staff, staff_user, paid_order):
    response = staff.post(
        f"/dashboard/orders/{paid_order.number}/fulfil/",
        {"carrier": "Royal Mail", "tracking_number": "RM123456789GB"},
        follow=True,
    )

    assert f"Order {paid_order.number} marked shipped" in response.content.decode()
    paid_order.refresh_from_db()
    assert (paid_order.fulfilment_status, paid_order.carrier, paid_order.tracking_number) == (
        "fulfilled",
        "Royal Mail",
        "RM123456789GB",
    )
    event = paid_order.events.filter(kind="status").last()
    assert event.actor == staff_user and "shipped with Royal Mail, tracking RM123456789GB" in event.message
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    notices = [m for m in mail.outbox if "is on its way" in m.subject]
    assert len(notices) == 1 and "RM123456789GB" in notices[0].body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"carrier": "", "tracking_number": "X"}, "Give the carrier."),
        ({"carrier": "DPD", "tracking_number": ""}, "Give the tracking number."),
    ],
)
def test_fulfil_needs_carrier_and_tracking(staff, paid_order, data, message):
    before = snapshot(paid_order)
    response = staff.post(f"/dashboard/orders/{paid_order.number}/fulfil/", data, follow=True)
    assert message in response.content.decode()
    assert snapshot(paid_order) == before


def test_an_unpaid_order_cannot_be_shipped(staff, order):
    before = snapshot(order)
    response = staff.post(
        f"/dashboard/orders/{order.number}/fulfil/", {"carrier": "DPD", "tracking_number": "1"}, follow=True
    )
    assert "Only a paid order can be shipped; this one is Awaiting payment." in response.content.decode()
    assert snapshot(order) == before


def test_partial_refund_through_stripe_then_the_rest(staff, staff_user, outside, paid_order):
    response = refund(staff, paid_order, "10.00")

    # £10.00 of £69.95 with £11.66 VAT in it: 1000 × 1166 / 6995 = 166.69 -> £1.67 of VAT given back.
    assert f"Refunded £10.00 (of which VAT £1.67) on order {paid_order.number}." in response.content.decode()
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.payment_status) == ("open", "partially_refunded")
    made = Refund.objects.get()
    assert (made.amount, made.status, made.created_by, made.reason) == (
        1000,
        "succeeded",
        staff_user,
        "damaged",
    )
    assert stripe_api(outside, "GET", f"refunds/{made.stripe_refund_id}")["amount"] == 1000

    rest = paid_order.total - 1000
    refund(staff, paid_order, f"{rest / 100:.2f}")
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.payment_status) == ("closed", "refunded")
    assert sorted(Refund.objects.values_list("amount", flat=True)) == sorted([1000, rest])


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "A refund must be more than zero."),
        ("-5", "A refund must be more than zero."),
        ("abc", "Enter the amount as a number, e.g. 12.50."),
        ("", "Enter an amount, or how many of a line to refund."),
        ("1.234", "Use at most two decimal places."),
        ("999.00", "At most £69.95 can still be refunded."),  # £65.00 + £4.95, VAT included
    ],
)
def test_bad_refunds_are_refused_and_change_nothing(staff, paid_order, amount, message):
    before = snapshot(paid_order)
    response = refund(staff, paid_order, amount)
    assert message in response.content.decode()
    assert snapshot(paid_order) == before


def test_refunding_a_line_gives_back_what_was_paid_for_it_and_its_vat(staff, outside, paid_order):
    line = paid_order.lines.get()
    response = refund(staff, paid_order, "", **{f"line-{line.pk}": "1"})

    # The jumper: £65.00 incl. 20 % VAT, 6500 / 6 = 1083.33 -> £10.83.
    assert f"Refunded £65.00 (of which VAT £10.83) on order {paid_order.number}." in response.content.decode()
    made = Refund.objects.get()
    assert (made.amount, made.tax) == (6500, 1083)
    assert [(part.order_line, part.quantity, part.amount, part.tax) for part in made.lines.all()] == [
        (line, 1, 6500, 1083)
    ]
    assert stripe_api(outside, "GET", f"refunds/{made.stripe_refund_id}")["amount"] == 6500
    again = refund(staff, paid_order, "", **{f"line-{line.pk}": "1"})
    assert "At most 0 of Merino Jumper can still be refunded." in again.content.decode()
    both = refund(staff, paid_order, "1.00", **{f"line-{line.pk}": "1"})
    assert "Refund either an amount or lines, not both." in both.content.decode()
    assert Refund.objects.count() == 1


def test_a_double_submitted_refund_refunds_once(staff, outside, paid_order):
    refund(staff, paid_order, "5.00", key="same-form")
    response = refund(staff, paid_order, "5.00", key="same-form")

    assert response.status_code == 200
    assert list(Refund.objects.values_list("amount", flat=True)) == [500]
    intent = paid_order.payments.get(status="succeeded").payment_intent_id
    refunds = [
        r
        for r in stripe_api(outside, "GET", "refunds?limit=100")["data"]
        if r.get("payment_intent") == intent
    ]
    assert len(refunds) == 1


def test_a_canceled_order_cannot_be_refunded(staff, order):
    staff.post(f"/dashboard/orders/{order.number}/cancel/", {"reason": "customer asked"})
    before = snapshot(order)
    response = refund(staff, order, "1.00")
    assert "A canceled order cannot be refunded." in response.content.decode()
    assert snapshot(order) == before


def test_cancel_an_unpaid_order_cancels_its_payment_intent_and_releases_stock(staff, outside, order, jumper):
    assert stock(jumper) == (3, 1)
    response = staff.post(
        f"/dashboard/orders/{order.number}/cancel/", {"reason": "customer asked"}, follow=True
    )

    assert f"Order {order.number} canceled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == "canceled" and order.cancel_reason == "canceled by staff: customer asked"
    assert stock(jumper) == (3, 0)
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["status"] == "canceled"


def test_cancel_a_paid_order_refunds_it_and_puts_the_stock_back(staff, outside, paid_order, jumper):
    assert stock(jumper) == (2, 0)
    staff.post(f"/dashboard/orders/{paid_order.number}/cancel/", {"reason": "out of our hands"})

    paid_order.refresh_from_db()
    assert paid_order.status == "canceled"
    assert Refund.objects.get().amount == paid_order.total
    assert stock(jumper) == (3, 0)


def test_shipped_orders_cannot_be_canceled(staff, paid_order):
    staff.post(f"/dashboard/orders/{paid_order.number}/fulfil/", {"carrier": "DPD", "tracking_number": "1"})
    before = snapshot(paid_order)
    response = staff.post(
        f"/dashboard/orders/{paid_order.number}/cancel/", {"reason": "too late"}, follow=True
    )
    assert "A shipped order cannot be canceled; refund it instead." in response.content.decode()
    assert snapshot(paid_order) == before


def test_actions_need_csrf(staff_user, paid_order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    before = snapshot(paid_order)
    response = client.post(
        f"/dashboard/orders/{paid_order.number}/fulfil/", {"carrier": "DPD", "tracking_number": "1"}
    )
    assert response.status_code == 403
    assert snapshot(paid_order) == before


def test_order_page_shows_lines_payments_refunds_and_history(staff, paid_order):
    refund(staff, paid_order, "1.00")
    body = staff.get(f"/dashboard/orders/{paid_order.number}/").content.decode()
    assert "Merino Jumper" in body and "succeeded" in body and "damaged" in body
    assert "Awaiting payment → Paid" in body and "Paid → Partially refunded" in body
    assert "Refunded £1.00: damaged" in body and "sam@example.com" in body


def test_stock_adjustment_from_the_stock_page(staff, staff_user, outside, jumper, order):
    response = staff.post(
        f"/dashboard/stock/{jumper.pk}/adjust/", {"on_hand": "10", "reason": "delivery"}, follow=True
    )
    assert "On hand changed from 3 to 10." in response.content.decode()
    assert stock(jumper) == (10, 1)
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.user, adjustment.reason, adjustment.change) == (staff_user, "delivery", 7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"on_hand": "0", "reason": "count"}, "1 units are held by orders awaiting payment"),
        ({"on_hand": "x", "reason": "count"}, "On hand must be a whole number."),
        ({"on_hand": "-3", "reason": "count"}, "On hand cannot be negative."),
        ({"on_hand": "5", "reason": ""}, "Give a reason for the change."),
    ],
)
def test_bad_stock_adjustments_are_refused(staff, outside, jumper, order, data, message):
    response = staff.post(f"/dashboard/stock/{jumper.pk}/adjust/", data, follow=True)
    assert message in response.content.decode()
    assert stock(jumper) == (3, 1) and not StockAdjustment.objects.exists()


def test_replay_from_the_dashboard(staff, outside):
    from checkout.models import WebhookEvent

    event = WebhookEvent.objects.create(
        stripe_event_id="evt_x",
        type="customer.created",
        payload={"id": "evt_x", "type": "customer.created", "data": {"object": {}}},
    )
    response = staff.post(f"/dashboard/webhooks/{event.pk}/replay/", follow=True)
    assert "customer.created evt_x: ignored: type not handled" in response.content.decode()
    event.refresh_from_db()
    assert event.processed_at is not None
