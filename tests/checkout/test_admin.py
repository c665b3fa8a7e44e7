"""The checkout admin: money and status are read-only; actions go through the checkout services."""

import itertools

import pytest
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checkout.models import (
    Cart,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    WebhookEvent,
)
from inventory.models import Stock
from tests.factories import OrderFactory, UserFactory
from tests.helpers import GOOD_CARD, Browser
from tests.servers import free_port

_numbers = itertools.count(90001)


def make_order(**fields) -> Order:
    number = next(_numbers)
    values = {
        "number": f"NW{number}",
        "checkout_key": f"cart-admin-{number}",
        "email": "ann@example.com",
        "line1": "1 High Street",
        "subtotal": 1000,
        "shipping_total": 250,
        "total": 1250,
        "payment_status": Order.PaymentStatus.AWAITING,
    }
    return OrderFactory(**(values | fields))


def as_staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.get(reverse("admin:index"))  # shows (and so clears) messages left from shopping as a guest
    return user


def sent_messages(response) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in get_messages(response.wsgi_request)]


def run_action(client, model: str, action: str, *pks: int):
    return client.post(
        reverse(f"admin:checkout_{model}_changelist"), {"action": action, "_selected_action": list(pks)}
    )


@pytest.fixture
def checkout_data(db) -> dict[str, object]:
    """One of everything the checkout admin shows, with known amounts."""
    order = make_order()
    OrderLine.objects.create(
        order=order,
        sku="MUG",
        product_title="Enamel Mug",
        unit_price=500,
        quantity=2,
        line_total=1000,
    )
    payment = Payment.objects.create(
        order=order,
        payment_intent_id="pi_admin_1",
        amount=1250,
        currency="GBP",
        status=Payment.Status.SUCCEEDED,
    )
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        stripe_refund_id="re_admin_1",
        amount=500,
        currency="GBP",
        status=Refund.Status.SUCCEEDED,
        reason="damaged",
    )
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.PLACED, message="Order placed by Ann")
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_x",
        type="customer.created",
        payload={"id": "evt_x", "type": "customer.created", "data": {"object": {}}},
    )
    cart = Cart.objects.create()
    return {
        "order": order,
        "payment": payment,
        "refund": refund,
        "webhookevent": event,
        "cart": cart,
    }


PAGES = [
    ("order", ["NW", "ann@example.com", "£12.50"], ["£12.50", "£10.00", "£2.50 + £0.00 (Standard)", "£0.00"]),
    ("payment", ["pi_admin_1", "£12.50"], ["pi_admin_1", "£12.50"]),
    ("refund", ["re_admin_1", "£5.00", "damaged"], ["re_admin_1", "£5.00"]),
    ("webhookevent", ["evt_x", "customer.created"], ["evt_x"]),
    ("cart", [], []),
]


@pytest.mark.parametrize(("model", "in_list", "in_detail"), PAGES)
def test_staff_see_every_list_and_detail_page_with_money_formatted(
    client, checkout_data, model, in_list, in_detail
):
    as_staff(client)
    obj = checkout_data[model]

    listing = client.get(reverse(f"admin:checkout_{model}_changelist"))
    detail = client.get(reverse(f"admin:checkout_{model}_change", args=[obj.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    for text in in_list:
        assert text in listing.content.decode()
    for text in in_detail:
        assert text in detail.content.decode()


def test_order_page_shows_lines_payments_refunds_and_timeline_read_only(client, checkout_data):
    as_staff(client)
    order = checkout_data["order"]

    page = client.get(reverse("admin:checkout_order_change", args=[order.pk])).content.decode()

    for text in [
        "Enamel Mug",
        "£5.00",
        "£10.00",
        "pi_admin_1",
        "re_admin_1",
        "damaged",
        "Order placed by Ann",
    ]:
        assert text in page
    # Nothing on the page can be edited or submitted.
    assert 'name="_save"' not in page
    assert 'name="email"' not in page and 'name="total"' not in page
    assert 'name="lines-0-quantity"' not in page


def test_webhook_event_page_shows_the_payload_pretty_printed(client, checkout_data):
    as_staff(client)
    event = checkout_data["webhookevent"]

    page = client.get(reverse("admin:checkout_webhookevent_change", args=[event.pk])).content.decode()

    assert (
        "<pre>{\n  &quot;data&quot;: {\n    &quot;object&quot;: {}\n  },\n  &quot;id&quot;: &quot;evt_x&quot;"
        in page
    )
    assert 'name="payload"' not in page


def test_posting_to_an_order_page_changes_nothing(client, checkout_data):
    as_staff(client)
    order = checkout_data["order"]
    before = Order.objects.values().get(pk=order.pk)

    response = client.post(
        reverse("admin:checkout_order_change", args=[order.pk]),
        {
            **{key: value for key, value in before.items() if value is not None},
            "status": Order.Status.CLOSED,
            "payment_status": Order.PaymentStatus.REFUNDED,
            "subtotal": 1,
            "shipping_total": 0,
            "tax_total": 0,
            "total": 1,
            "email": "thief@example.com",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assert Order.objects.values().get(pk=order.pk) == before


@pytest.mark.parametrize("model", ["order", "payment", "refund", "webhookevent", "cart"])
def test_read_only_models_cannot_be_added_or_deleted(client, checkout_data, model):
    as_staff(client)
    obj = checkout_data[model]
    model_class = type(obj)
    count = model_class.objects.count()
    delete_url = reverse(f"admin:checkout_{model}_delete", args=[obj.pk])

    assert client.get(reverse(f"admin:checkout_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:checkout_{model}_add"), {}).status_code == 403
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    run_action(client, model, "delete_selected", obj.pk)

    assert model_class.objects.count() == count


@pytest.mark.parametrize("is_staff", [False, None])
def test_others_are_sent_to_the_admin_login(client, checkout_data, is_staff):
    if is_staff is not None:
        client.force_login(UserFactory(is_staff=is_staff))

    response = client.get("/admin/checkout/order/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/checkout/order/"


def test_order_list_queries_do_not_grow_with_the_rows(client, db):
    as_staff(client)
    url = reverse("admin:checkout_order_changelist")
    make_order()
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(5):
        make_order()
    with CaptureQueriesContext(connection) as six:
        assert client.get(url).status_code == 200

    assert len(six) == len(one)


def test_order_search_by_number_email_and_name(client, db):
    as_staff(client)
    ann = make_order(email="Ann.Walker@Example.com", full_name="Ann Walker")
    bob = make_order(email="bob@example.com", full_name="Bob Stone")
    url = reverse("admin:checkout_order_changelist")

    def found(term: str) -> list[str]:
        return [order.number for order in client.get(url, {"q": term}).context["cl"].result_list]

    assert found(ann.number.lower()) == [ann.number]
    assert found("ann.walker@example.COM") == [ann.number]
    assert found("ann.walker") == []  # e-mail addresses match whole, not in part
    assert found("stone") == [bob.number]


def test_failed_filter_shows_only_events_with_an_error(client, db):
    as_staff(client)
    WebhookEvent.objects.create(stripe_event_id="evt_ok", type="charge.refunded", payload={})
    WebhookEvent.objects.create(stripe_event_id="evt_bad", type="charge.refunded", payload={}, error="Boom")

    response = client.get(reverse("admin:checkout_webhookevent_changelist"), {"failed": "yes"})

    assert [event.stripe_event_id for event in response.context["cl"].result_list] == ["evt_bad"]


def test_cancel_action_cancels_a_pending_order_and_releases_its_stock(outside, client, order, jumper):
    assert Stock.objects.get(variant=jumper).allocated == 1
    staff = as_staff(client)

    response = run_action(client, "order", "cancel_orders", order.pk)

    assert response.status_code == 302
    assert sent_messages(response) == [(messages.SUCCESS, f"Order {order.number} canceled.")]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert order.cancel_reason == "canceled by staff: canceled from admin"
    stock = Stock.objects.get(variant=jumper)
    assert (stock.on_hand, stock.allocated) == (3, 0)
    assert Payment.objects.get(order=order).status == Payment.Status.CANCELED
    note = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.NOTE)
    assert (note.message, note.actor_id) == ("canceled from admin", staff.pk)


def test_cancel_action_refunds_a_paid_order_and_returns_its_stock(outside, client, order, jumper):
    assert Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD).status_code == 200
    assert (Stock.objects.get(variant=jumper).on_hand, Stock.objects.get(variant=jumper).allocated) == (2, 0)
    as_staff(client)

    response = run_action(client, "order", "cancel_orders", order.pk)

    assert sent_messages(response) == [
        (messages.SUCCESS, f"Order {order.number} canceled and its payment refunded.")
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.status) == (order.total, Refund.Status.SUCCEEDED)
    stock = Stock.objects.get(variant=jumper)
    assert (stock.on_hand, stock.allocated) == (3, 0)


def test_cancel_action_on_a_canceled_order_reports_an_error_and_changes_nothing(
    outside, client, order, jumper
):
    as_staff(client)
    run_action(client, "order", "cancel_orders", order.pk)
    client.get(reverse("admin:index"))  # clears the first cancelation's message
    before = Order.objects.values().get(pk=order.pk)
    events = list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True))

    response = run_action(client, "order", "cancel_orders", order.pk)

    assert sent_messages(response) == [
        (
            messages.ERROR,
            f"Canceling order {order.number} failed: "
            "A canceled order cannot be canceled. Nothing was changed.",
        )
    ]
    assert Order.objects.values().get(pk=order.pk) == before
    assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True)) == events
    stock = Stock.objects.get(variant=jumper)
    assert (stock.on_hand, stock.allocated) == (3, 0)


def test_cancel_action_needs_the_change_permission(client, db):
    order = make_order()
    user = UserFactory(is_staff=True, roles=[])  # no role: only the permission given below
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    url = reverse("admin:checkout_order_changelist")

    assert "cancel_orders" not in client.get(url).content.decode()
    response = run_action(client, "order", "cancel_orders", order.pk)

    assert response.status_code == 200  # no action this user may run: the list is shown again
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    assert not OrderEvent.objects.filter(order=order).exists()


def test_replay_action_applies_an_event(client, db):
    as_staff(client)
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_x",
        type="customer.created",
        payload={"id": "evt_x", "type": "customer.created", "data": {"object": {}}},
    )

    response = run_action(client, "webhookevent", "replay_events", event.pk)

    assert sent_messages(response) == [
        (messages.SUCCESS, "customer.created evt_x: ignored: type not handled")
    ]
    event.refresh_from_db()
    assert event.processed_at is not None
    assert (event.outcome, event.error, event.attempts) == ("ignored: type not handled", "", 1)


def test_replay_action_reports_a_failure(client, db, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # Stripe is down
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    as_staff(client)
    order = make_order()
    Payment.objects.create(
        order=order, payment_intent_id="pi_down", amount=1250, currency="GBP", status="requires_confirmation"
    )
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_down",
        type="payment_intent.succeeded",
        payload={"id": "evt_down", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_down"}}},
    )

    response = run_action(client, "webhookevent", "replay_events", event.pk)

    [(level, text)] = sent_messages(response)
    assert level == messages.ERROR
    assert text.startswith("Replaying payment_intent.succeeded evt_down failed again: Stripe did not answer")
    assert text.endswith("try again in a minute. The event stays marked failed.")
    event.refresh_from_db()
    assert event.processed_at is None and event.error.startswith("PaymentGatewayUnavailable")
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
