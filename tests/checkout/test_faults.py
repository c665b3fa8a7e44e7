"""Outside faults made at the transport: the inventory API and Stripe go down, hang, fail, answer
garbage or lose their answer after doing the work; the database drops mid-checkout.

Every case checks what the shopper is told, that no order is lost, that nothing is charged
without an order or kept without stock, that a retry succeeds once the fault is gone, and
that the shop's invariants hold afterwards.
"""

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from checkout.exceptions import PaymentUnconfirmed
from checkout.models import Cart, CartLine, Order, Payment, Refund
from checkout.services.placement import PLACEMENT_GRACE
from inventory.models import Reservation, Stock
from tests.audit import assert_audit_clean
from tests.faults import Fault, FaultyProxy, TcpProxy
from tests.helpers import (
    DECLINED_CARD,
    GOOD_CARD,
    Browser,
    _test_database_url,
    fill_cart,
    place,
    prices_seen,
    run_due_tasks,
)
from tests.servers import ShopProcess

TIMEOUT = 1.0  # seconds the shop waits for the inventory API and for Stripe in these tests
STOCK_DOWN = "We couldn&#x27;t check our stock just now. Nothing was charged — please try again in a minute."
STRIPE_DOWN = (
    "Our payment provider is not answering just now. Nothing was charged — please try again in a minute."
)
CREATE_INTENT = r"^/v1/payment_intents$"
CONFIRM_INTENT = r"^/v1/payment_intents/[^/]+/confirm$"
EVERY_FAULT = [Fault.DOWN, Fault.HANG, Fault.ERROR, Fault.GARBAGE, Fault.TRUNCATED, Fault.LOSE_ANSWER]


@dataclass
class Outside:
    stripe: FaultyProxy
    inventory: FaultyProxy
    stripe_url: str  # localstripe itself, for what the shopper's browser and the test do

    def heal(self) -> None:
        """End every fault and let requests held by a hang go through."""
        self.stripe.set(Fault.PASS)
        self.inventory.set(Fault.PASS)
        self.stripe.wait_idle()
        self.inventory.wait_idle()


@pytest.fixture(scope="module")
def stripe_proxy(localstripe):
    proxy = FaultyProxy(target=localstripe.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def inventory_proxy(threaded_shop):
    proxy = FaultyProxy(target=threaded_shop.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty(outside, localstripe, stripe_proxy, inventory_proxy):
    """The shop's Stripe and inventory API behind proxies the test can break, with short timeouts."""
    faults = Outside(stripe=stripe_proxy, inventory=inventory_proxy, stripe_url=localstripe.url)
    faults.heal()
    stripe_proxy.seen.clear()
    inventory_proxy.seen.clear()
    outside.STRIPE_API_BASE = stripe_proxy.url
    outside.STRIPE_TIMEOUT = TIMEOUT
    outside.STRIPE_MAX_NETWORK_RETRIES = 1
    outside.INVENTORY_API_URL = f"{inventory_proxy.url}/inventory/v1"
    outside.INVENTORY_API_TIMEOUT = TIMEOUT
    yield faults
    faults.heal()


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def intents_of(faults: Outside, order: Order) -> list[dict]:
    """Return Stripe's PaymentIntents made for the order, as Stripe has them."""
    response = httpx.get(
        f"{faults.stripe_url}/v1/payment_intents",
        params={"limit": 100},
        headers={"Authorization": "Bearer sk_test_suite"},
        timeout=5,
    )
    response.raise_for_status()
    return [i for i in response.json()["data"] if i["metadata"].get("order_number") == order.number]


def cart_version(response) -> int:
    return int(re.search(r'name="cart_version" value="(\d+)"', response.content.decode()).group(1))


def assert_placed(response) -> tuple[Order, Payment]:
    """Assert the checkout placed an order and sent the shopper to pay; return it and its payment."""
    assert response.status_code == 302 and response["Location"].endswith("/pay/"), response
    order = Order.objects.get(public_token=response["Location"].split("/")[2])
    assert order.payment_status == Order.PaymentStatus.AWAITING
    payment = Payment.objects.get(order=order)
    assert Reservation.objects.get(pk=order.reservation_id).status == "held"
    return order, payment


# Placing an order -------------------------------------------------------------------------


@pytest.mark.parametrize("fault", EVERY_FAULT)
def test_inventory_fault_while_placing(faulty, shipping, client, jumper, fault):
    faulty.inventory.set(fault)
    version = fill_cart(client, (jumper, 1))

    response = place(client, version)

    assert response.status_code == 409
    assert STOCK_DOWN in response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "inventory unavailable"
    assert CartLine.objects.get().quantity == 1  # the cart is kept
    assert not Payment.objects.exists()
    assert [i["status"] for i in intents_of(faulty, order)] == ["canceled"]

    # Once the inventory is back, whatever the lost request held is given back.
    faulty.heal()
    run_due_tasks()
    assert stock(jumper) == (3, 0)
    assert not Reservation.objects.filter(status="held").exists()

    retry = place(client, cart_version(response))

    new_order, payment = assert_placed(retry)
    assert [i["id"] for i in intents_of(faulty, new_order)] == [payment.payment_intent_id]
    assert stock(jumper) == (3, 1)
    assert_audit_clean()


@pytest.mark.parametrize("fault", EVERY_FAULT)
def test_stripe_fault_while_placing(faulty, shipping, client, jumper, fault):
    faulty.stripe.set(fault, only=CREATE_INTENT)
    version = fill_cart(client, (jumper, 2))

    response = place(client, version)

    assert response.status_code == 409
    assert STRIPE_DOWN in response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "payment provider unavailable"
    assert CartLine.objects.get().quantity == 2
    assert not Payment.objects.exists()
    assert Reservation.objects.get().status == "released" and stock(jumper) == (3, 0)

    # Once Stripe is back, any PaymentIntent the lost request made is canceled: it can never be charged.
    # (Repeats of the request carried the same idempotency key: at most one was made.)
    faulty.heal()
    run_due_tasks()
    assert [i["status"] for i in intents_of(faulty, order)] in ([], ["canceled"])

    retry = place(client, cart_version(response))

    new_order, payment = assert_placed(retry)
    assert [i["id"] for i in intents_of(faulty, new_order)] == [payment.payment_intent_id]
    assert stock(jumper) == (3, 2)
    assert_audit_clean()


# Paying ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.DOWN, Fault.ERROR, Fault.GARBAGE])
def test_stripe_fault_while_setting_up_the_card(faulty, client, order, jumper, fault):
    faulty.stripe.set(fault)

    response = client.post(f"/order/{order.public_token}/pay/setup/")

    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert response.json() == {
        "status": "error",
        "error": "payment_gateway_unavailable",
        "message": STRIPE_DOWN,
        "retryable": True,
    }
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING and stock(jumper) == (3, 1)

    faulty.heal()
    paid = Browser(client, faulty.stripe_url, order).pay(GOOD_CARD)

    assert paid.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and stock(jumper) == (2, 0)
    assert_audit_clean()


@pytest.mark.parametrize(
    ("fault", "charged"),
    [(Fault.LOSE_ANSWER, True), (Fault.HANG, True), (Fault.ERROR, False), (Fault.TRUNCATED, False)],
)
def test_stripe_fault_while_charging_the_card(faulty, client, order, jumper, fault, charged):
    """The charge may have gone through with its answer lost: never charge a second time."""
    browser = Browser(client, faulty.stripe_url, order)
    faulty.stripe.set(fault, only=CONFIRM_INTENT)

    response = browser.pay(GOOD_CARD)

    assert response.status_code == 503
    assert response.json()["message"].startswith(
        "We couldn't confirm your payment with our provider just now."
    )
    assert "reload this page: it will show whether the payment went through" in response.json()["message"]
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING  # the order is kept, still payable
    faulty.heal()
    first = Payment.objects.get(order=order)
    assert [i["status"] for i in intents_of(faulty, order)] == [
        "succeeded" if charged else "requires_confirmation"
    ]

    # The shopper reloads, then pays again: a charge that went through is found, not repeated.
    assert client.get(f"/order/{order.public_token}/pay/").status_code == 200
    retry = browser.pay(GOOD_CARD)

    assert retry.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is not None
    succeeded = [i["id"] for i in intents_of(faulty, order) if i["status"] == "succeeded"]
    assert len(succeeded) == 1 and not Refund.objects.exists()
    if charged:
        assert succeeded == [first.payment_intent_id]
    assert stock(jumper) == (2, 0)
    assert_audit_clean()


def test_declined_then_stripe_loses_the_new_payment_intent(faulty, client, order, jumper):
    """After a decline the next attempt gets a fresh PaymentIntent; its creation's answer is lost."""
    browser = Browser(client, faulty.stripe_url, order)
    assert browser.pay(DECLINED_CARD).status_code == 402
    faulty.stripe.set(Fault.LOSE_ANSWER, only=CREATE_INTENT)

    response = browser.pay(GOOD_CARD)

    assert response.status_code == 503
    faulty.heal()
    retry = browser.pay(GOOD_CARD)

    assert retry.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    # The lost answer's PaymentIntent was found again by its idempotency key, not made twice.
    assert sorted(i["status"] for i in intents_of(faulty, order)) == ["canceled", "succeeded"]
    assert [(p.attempt, p.status) for p in Payment.objects.order_by("attempt")] == [
        (1, "canceled"),
        (2, "succeeded"),
    ]
    assert_audit_clean()


@pytest.mark.parametrize("fault", [Fault.DOWN, Fault.HANG, Fault.ERROR, Fault.GARBAGE, Fault.LOSE_ANSWER])
def test_inventory_fault_when_the_payment_succeeds(faulty, client, order, jumper, fault):
    """The card is charged but the stock cannot be committed yet: it stays held and is committed later."""
    faulty.inventory.set(fault, only=r"/commit$")

    response = Browser(client, faulty.stripe_url, order).pay(GOOD_CARD)

    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is None
    assert stock(jumper)[0] >= 2  # still held, or taken (the answer was lost), but never released

    faulty.heal()
    run_due_tasks()

    order.refresh_from_db()
    assert order.stock_committed_at is not None
    assert Reservation.objects.get().status == "committed" and stock(jumper) == (2, 0)
    assert not Refund.objects.exists()
    assert_audit_clean()


# The database ------------------------------------------------------------------------------


@pytest.fixture
def database_proxy(transactional_db):
    settings = connection.settings_dict
    proxy = TcpProxy(target_host=settings["HOST"] or "127.0.0.1", target_port=int(settings["PORT"] or 5432))
    yield proxy.start()
    proxy.stop()


@pytest.fixture
def shop_behind_proxies(faulty, database_proxy):
    """The shop as its own process (pool on), its database, Stripe and the inventory API behind proxies."""
    port = connection.settings_dict["PORT"] or "5432"
    server = ShopProcess(
        database_url=_test_database_url().replace(f":{port}/", f":{database_proxy.port}/"),
        env={
            "STRIPE_API_BASE": faulty.stripe.url,
            "STRIPE_MAX_NETWORK_RETRIES": "0",
            "STRIPE_TIMEOUT": "10",
            "INVENTORY_API_URL": f"{faulty.inventory.url}/inventory/v1",
            "INVENTORY_API_TIMEOUT": "10",
            "DATABASE_POOL_TIMEOUT": "2",
        },
    )
    yield server
    server.stop()


def in_background(request) -> tuple[threading.Thread, list]:
    """Send `request()` from a thread; return the thread and the list its answer goes into."""
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(request()))
    thread.start()
    return thread, answers


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_database_dropped_mid_checkout_and_mid_payment(
    faulty, shipping, jumper, database_proxy, shop_behind_proxies
):
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=jumper, quantity=1)
    session = SessionStore()
    session["cart_id"] = cart.pk
    session.create()
    csrf = secrets.token_hex(16)
    browser = httpx.Client(
        base_url=shop_behind_proxies.url,
        cookies={"sessionid": session.session_key, "csrftoken": csrf},
        headers={"X-CSRFToken": csrf},
        timeout=30,
    )
    form = {
        "csrfmiddlewaretoken": csrf,
        "cart_version": cart.version,
        "quote": prices_seen(cart).sign(),
        "email": "ann@example.com",
        "full_name": "Ann Walker",
        "line1": "1 High Street",
        "city": "Kendal",
        "postcode": "LA9 4DT",
        "country": "GB",
        "shipping_method": "standard",
    }

    # The order is made and its stock held; while Stripe makes its PaymentIntent, the database goes.
    faulty.stripe.set(Fault.HANG, only=CREATE_INTENT)
    submit, answers = in_background(lambda: browser.post("/checkout/", data=form))
    wait_until(lambda: faulty.stripe.seen and faulty.inventory.seen and not faulty.inventory.busy)
    database_proxy.cut()
    faulty.stripe.set(Fault.PASS)
    submit.join(timeout=30)
    database_proxy.restore()

    (response,) = answers
    assert response.status_code == 503
    assert "Nothing was charged, and your cart is kept." in response.text
    assert "Please try again in a minute" in response.text
    order = Order.objects.get()  # not lost: awaiting payment, with its PaymentIntent and its stock held
    assert order.payment_status == Order.PaymentStatus.AWAITING and not Payment.objects.exists()
    assert CartLine.objects.get(cart=cart).quantity == 1 and Cart.objects.get().version == cart.version
    (intent,) = intents_of(faulty, order)
    assert intent["status"] == "requires_payment_method"  # nothing can be charged without a card
    assert stock(jumper) == (3, 1)

    # The shopper tries again: the same order is taken up where it stopped (once it is clearly
    # not still being placed), with the same PaymentIntent and the same hold.
    again = browser.post("/checkout/", data=form)
    assert again.status_code == 302 and again.headers["location"] == f"/order/{order.public_token}/pay/"
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - PLACEMENT_GRACE)
    resumed = browser.get(f"/order/{order.public_token}/pay/", follow_redirects=True)

    assert resumed.status_code == 200 and f"Pay for order {order.number}" in resumed.text
    payment = Payment.objects.get(order=order)
    assert payment.payment_intent_id == intent["id"]
    assert [i["id"] for i in intents_of(faulty, order)] == [intent["id"]]
    assert Reservation.objects.get().status == "held" and stock(jumper) == (3, 1)
    assert not CartLine.objects.filter(cart=cart).exists()
    assert_audit_clean()

    # Paying: the card is charged, and the database goes before the shop can record it.
    setup = browser.post(f"/order/{order.public_token}/pay/setup/", json={})
    assert setup.status_code == 200, setup.text
    confirm_card_setup(faulty.stripe_url, setup.json()["client_secret"], GOOD_CARD)
    faulty.stripe.set(Fault.HANG, only=CONFIRM_INTENT)
    setup_id = setup.json()["client_secret"].split("_secret_")[0]
    pay, answers = in_background(
        lambda: browser.post(f"/order/{order.public_token}/pay/confirm/", json={"setup_intent": setup_id})
    )
    wait_until(lambda: any(seen.path.endswith("/confirm") for seen in faulty.stripe.seen))
    database_proxy.cut()
    faulty.stripe.set(Fault.PASS)
    pay.join(timeout=30)
    database_proxy.restore()

    (response,) = answers
    assert response.status_code == 503
    assert response.json() == {  # not "nothing charged", and not worth repeating blindly
        "status": "error",
        "error": "payment_unconfirmed",
        "message": PaymentUnconfirmed.user_message,
        "retryable": False,
    }
    assert "Retry-After" not in response.headers
    assert [i["status"] for i in intents_of(faulty, order)] == ["succeeded"]

    # The shopper reloads as asked: the payment is found and the order paid, once.
    back = browser.get(f"/order/{order.public_token}/return/", follow_redirects=True)

    assert back.status_code == 200 and f"order {order.number} is confirmed" in back.text
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.stock_committed_at is not None
    assert [i["status"] for i in intents_of(faulty, order)] == ["succeeded"] and not Refund.objects.exists()
    assert stock(jumper) == (2, 0)
    assert_audit_clean()


def confirm_card_setup(stripe_url: str, client_secret: str, number: str) -> None:
    """Do what Stripe.js does in the browser with the card the shopper typed."""
    setup_id = client_secret.split("_secret_")[0]
    body = {
        "key": "pk_test_suite",
        "use_stripe_sdk": True,
        "client_secret": client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "34", "cvc": "123"},
            "billing_details": {"address": {"postal_code": "42424"}},
        },
    }
    result = httpx.post(f"{stripe_url}/v1/setup_intents/{setup_id}/confirm", content=json.dumps(body)).json()
    assert result["status"] == "succeeded", result
