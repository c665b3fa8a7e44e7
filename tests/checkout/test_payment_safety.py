"""The hard cases: lost answers, second charges, outages at commit, expired holds, races."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from checkout.models import Cart, Order, Payment, Refund
from checkout.services.placement import ShippingAddress, order_create
from inventory.models import Reservation, Stock
from inventory.services import reservations_expire
from tests.factories import UserFactory
from tests.helpers import (
    ADDRESS,
    DECLINED_CARD,
    GOOD_CARD,
    Browser,
    deliver,
    event,
    fill_cart,
    pay_behind_our_back,
    place,
    prices_seen,
    run_due_tasks,
    stripe_api,
)
from tests.servers import DelayProxy, free_port


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def order_intents(settings, order) -> list[dict]:
    intents = stripe_api(settings, "GET", "payment_intents?limit=100")["data"]
    return [i for i in intents if i["metadata"].get("order_number") == order.number]


def test_a_retry_after_a_lost_answer_never_charges_twice(outside, client, order, jumper):
    """The first charge went through but its answer never reached us; the shopper tries again."""
    pay_behind_our_back(outside, client, order)
    Payment.objects.filter(order=order).update(
        confirmed_at=timezone.now(), status="requires_payment_method", last_error="timed out"
    )

    retry = Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD)

    assert retry.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert [i["status"] for i in order_intents(outside, order)] == ["succeeded"]
    assert Payment.objects.count() == 1 and not Refund.objects.exists()
    assert stock(jumper) == (2, 0)


def test_a_second_successful_payment_is_refunded_and_flagged(outside, client, order):
    first = pay_behind_our_back(outside, client, order)
    deliver(client, event("payment_intent.succeeded", first))
    browser = Browser(client, outside.STRIPE_API_BASE, order)
    Payment.objects.filter(order=order).update(setup_intent_id="")  # let the test set up another card
    Order.objects.filter(pk=order.pk).update(payment_status="awaiting")
    setup = stripe_api(outside, "GET", f"setup_intents/{browser.set_up_card(GOOD_CARD)}")
    Order.objects.filter(pk=order.pk).update(payment_status="paid")
    second = stripe_api(
        outside,
        "POST",
        "payment_intents",
        {
            "amount": order.total,
            "currency": "gbp",
            "customer": setup["customer"],
            "payment_method": setup["payment_method"],
            "confirm": "true",
            "metadata[order_number]": order.number,
        },
    )
    Payment.objects.create(
        order=order,
        attempt=2,
        payment_intent_id=second["id"],
        amount=order.total,
        currency="GBP",
        status="requires_confirmation",
    )

    deliver(client, event("payment_intent.succeeded", second))

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert order.is_flagged and "A second payment succeeded for an order already paid" in order.flag_reason
    refund = Refund.objects.get()
    assert (refund.payment.payment_intent_id, refund.amount) == (second["id"], order.total)


def test_stock_commit_is_retried_when_the_inventory_is_down(outside, client, order, jumper, threaded_shop):
    outside.INVENTORY_API_URL = f"http://127.0.0.1:{free_port()}/inventory/v1"
    Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD)
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is None
    retry = DBTaskResult.objects.get(task_path="checkout.services.payment_outcomes.commit_order_stock")
    assert retry.run_after > timezone.now() and retry.args_kwargs["args"] == [order.pk, 2]

    outside.INVENTORY_API_URL = f"{threaded_shop.url}/inventory/v1"
    run_due_tasks()

    order.refresh_from_db()
    assert order.stock_committed_at is not None
    assert stock(jumper) == (2, 0)


def test_an_expired_hold_is_renewed_before_paying(outside, client, order, jumper):
    first = Reservation.objects.get()
    reservations_expire(now=first.expires_at + timedelta(seconds=1))
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(seconds=1))
    assert stock(jumper) == (3, 0)

    response = Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD)

    assert response.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.reservation_id != str(first.id)
    assert stock(jumper) == (2, 0)


def test_an_expired_hold_whose_stock_is_gone_cancels_before_charging(outside, client, order, jumper):
    first = Reservation.objects.get()
    reservations_expire(now=first.expires_at + timedelta(seconds=1))
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(seconds=1))
    Stock.objects.filter(variant=jumper).update(on_hand=0)

    response = Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD)

    assert response.status_code == 409
    assert "sold out while it waited for payment. Nothing was charged." in response.json()["message"]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert [i["status"] for i in order_intents(outside, order)] == ["canceled"]


def test_a_declined_card_then_a_good_one_replaces_the_payment_intent(outside, client, order):
    browser = Browser(client, outside.STRIPE_API_BASE, order)
    assert browser.pay(DECLINED_CARD).status_code == 402
    assert browser.pay(GOOD_CARD).json()["status"] == "succeeded"
    statuses = sorted(i["status"] for i in order_intents(outside, order))
    assert statuses == ["canceled", "succeeded"]


def test_concurrent_double_submit_gives_one_order(outside, shipping, client, jumper):
    version = fill_cart(client, (jumper, 1))
    seen = prices_seen(Cart.objects.get()).sign()
    cookies = {key: morsel.value for key, morsel in client.cookies.items()}
    results: list = []

    def submit():
        tab = Client()
        for key, value in cookies.items():
            tab.cookies[key] = value
        results.append(tab.post("/checkout/", {**ADDRESS, "cart_version": version, "quote": seen}))

    tabs = [threading.Thread(target=submit) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()

    order = Order.objects.get()
    assert {r.status_code for r in results} == {302}
    assert {r["Location"] for r in results} == {f"/order/{order.public_token}/pay/"}
    assert Payment.objects.count() == 1 and Reservation.objects.count() == 1
    assert stock(jumper) == (3, 1)


def test_an_inventory_timeout_leaves_nothing_held_or_chargeable(
    outside, shipping, client, jumper, threaded_shop
):
    proxy = DelayProxy(target=threaded_shop.url, name="inventory", delay=1.5).start()
    try:
        outside.INVENTORY_API_URL = f"{proxy.url}/inventory/v1"
        outside.INVENTORY_API_TIMEOUT = 0.5
        version = fill_cart(client, (jumper, 1))
        response = place(client, version)
        order = Order.objects.get()
        deadline = time.monotonic() + 10
        while not [e for e in proxy.events if e[0] == "end"] and time.monotonic() < deadline:
            time.sleep(0.05)  # the late request lands and holds stock
    finally:
        proxy.stop()
    assert response.status_code == 409
    assert [i["status"] for i in order_intents(outside, order)] == ["canceled"]
    assert stock(jumper) == (3, 1)

    outside.INVENTORY_API_URL = f"{threaded_shop.url}/inventory/v1"
    run_due_tasks()

    assert stock(jumper) == (3, 0)
    assert Reservation.objects.get().status == "released"


def test_an_interrupted_placement_is_finished_from_the_payment_page(outside, shipping, client, jumper):
    version = fill_cart(client, (jumper, 1))
    cart = Cart.objects.get()
    order, created = order_create(
        cart_id=cart.pk,
        cart_version=version,
        user_id=None,
        email="ann@example.com",
        address=ShippingAddress("Ann", "1 Road", "", "Kendal", "LA9 4DT", "GB", ""),
        shipping_method_code="standard",
        seen_prices=prices_seen(cart),
    )
    assert created
    page = client.get(f"/order/{order.public_token}/pay/")
    assert "still preparing your payment" in page.content.decode()  # too recent to take over
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    response = client.get(f"/order/{order.public_token}/pay/")

    assert response.status_code == 302
    assert Payment.objects.filter(order=order).count() == 1
    assert stock(jumper) == (3, 1)


def test_strangers_cannot_pay_or_return_for_an_account_order(outside, shipping, jumper):
    owner = Client()
    owner.force_login(UserFactory())
    place(owner, fill_cart(owner, (jumper, 1)))
    order = Order.objects.get()
    stranger = Client()
    stranger.force_login(UserFactory())
    body = json.dumps({"setup_intent": "seti_x"})
    assert (
        stranger.post(
            f"/order/{order.public_token}/pay/confirm/", data=body, content_type="application/json"
        ).status_code
        == 404
    )
    assert stranger.get(f"/order/{order.public_token}/return/").status_code == 404
    assert (
        Client()
        .post(f"/order/{order.public_token}/pay/confirm/", data=body, content_type="application/json")
        .status_code
        == 403
    )


@pytest.mark.parametrize("path", ["/order/%00/", "/order/%00/pay/", "/order/a%00b/return/"])
def test_bad_order_tokens_are_404(outside, client, path):
    assert client.get(path).status_code == 404


def test_deeply_nested_json_is_a_400(outside, client, order):
    response = client.post(
        f"/order/{order.public_token}/pay/confirm/", data="[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400


def test_search_with_a_nul_byte(client, db):
    assert client.get("/search/?q=jum%00per").status_code == 200
