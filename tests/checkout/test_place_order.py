"""Placing an order: order, PaymentIntent and reservation made together; every failure undone."""

import re

import pytest
from django.test import Client

from checkout.models import Cart, CartLine, Order, Payment
from checkout.services.placement import ShippingAddress, order_create, order_payment_started
from inventory.models import Reservation, Stock
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory
from tests.helpers import ADDRESS, checkout_form, fill_cart, place, prices_seen, stripe_get
from tests.servers import DelayProxy, free_port


@pytest.fixture
def mug():
    product = ProductFactory(
        title="Enamel Mug", slug="enamel-mug", category=CategoryFactory(), price_from=1250
    )
    variant = VariantFactory(product=product, sku="MUG", price=1250)
    StockFactory(variant=variant, on_hand=10)
    return variant


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def test_checkout_page_shows_server_totals(outside, shipping, client, jumper, mug):
    fill_cart(client, (jumper, 1), (mug, 2))
    body = client.get("/checkout/").content.decode()
    # 65.00 + 2 × 12.50 = 90.00 including VAT; free delivery over 75.00; the VAT inside:
    # 6500*20/120 = 1083.33 -> 1083 and 2500*20/120 = 416.67 -> 417, so 15.00
    assert 'data-total="subtotal">£90.00<' in body and 'data-total="delivery">Free<' in body
    assert 'data-total="total">£90.00<' in body
    assert '<th>Includes VAT</th><td class="num" data-total="tax">£15.00<' in body


def test_happy_path_places_the_order_with_a_payment_intent_and_held_stock(
    outside, shipping, client, jumper, mug
):
    version = fill_cart(client, (jumper, 2), (mug, 1))

    response = place(client, version, subtotal="1", total="1", price="1")

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/order/{order.public_token}/pay/"
    assert order.payment_status == Order.PaymentStatus.AWAITING
    # 2 × 65.00 + 12.50 = 142.50 including VAT, delivered free; VAT 13000*20/120 = 2166.67 -> 2167
    # and 1250*20/120 = 208.33 -> 208, so 23.75; net 142.50 - 23.75 = 118.75
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (11875, 0, 2375, 14250)
    assert order.postcode == "LA9 4DT"
    assert [
        (line.sku, line.quantity, line.unit_price, line.net, line.tax) for line in order.lines.order_by("sku")
    ] == [("JUMP-M", 2, 6500, 10833, 2167), ("MUG", 1, 1250, 1042, 208)]
    payment = Payment.objects.get(order=order)
    intent = stripe_get(outside, f"payment_intents/{payment.payment_intent_id}")
    assert (intent["amount"], intent["currency"], intent["metadata"]) == (
        14250,
        "gbp",
        {"order_number": order.number},
    )
    assert intent["status"] == "requires_payment_method"
    reservation = Reservation.objects.get()
    assert str(reservation.id) == order.reservation_id
    assert reservation.status == "held" and reservation.reference == f"order-{order.number}"
    assert stock(jumper) == (3, 2) and stock(mug) == (10, 1)
    assert not CartLine.objects.exists()
    assert client.cookies["cart_count"].value == "0"

    page = client.get(response["Location"]).content.decode()
    assert f"Pay for order {order.number}" in page and "Pay £142.50" in page
    assert f'src="{outside.STRIPE_JS_URL}"' in page


def test_double_submit_gives_one_order_and_one_payment_intent(outside, shipping, client, jumper):
    form = checkout_form(client, fill_cart(client, (jumper, 1)))
    first = client.post("/checkout/", form)
    second = client.post("/checkout/", form)

    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/order/{order.public_token}/pay/"
    assert Payment.objects.count() == 1 and Reservation.objects.count() == 1
    assert stock(jumper) == (3, 1)
    intents = stripe_get(outside, "payment_intents?limit=100")["data"]
    assert [i["id"] for i in intents if i["metadata"].get("order_number") == order.number] == [
        order.payments.get().payment_intent_id
    ]


def test_out_of_stock_cancels_the_payment_intent_and_names_the_item(outside, shipping, client, jumper):
    version = fill_cart(client, (jumper, 3))
    Stock.objects.filter(variant=jumper).update(on_hand=1)  # sold elsewhere while the shopper checked out

    response = place(client, version)

    assert response.status_code == 302 and response["Location"] == "/cart/"
    page = client.get("/cart/").content.decode()
    assert "only 1 of Merino Jumper (M) left (you asked for 3)" in page
    assert "Nothing was charged" in page
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and "out of stock" in order.cancel_reason
    assert not Payment.objects.exists()
    intents = [
        i
        for i in stripe_get(outside, "payment_intents?limit=100")["data"]
        if i["metadata"].get("order_number") == order.number
    ]
    assert [i["status"] for i in intents] == ["canceled"]
    assert stock(jumper) == (1, 0) and not Reservation.objects.exists()
    assert CartLine.objects.get().quantity == 3  # the cart is kept for the shopper to fix


def test_inventory_down_cancels_the_payment_intent(outside, shipping, client, jumper, threaded_shop):
    outside.INVENTORY_API_URL = f"http://127.0.0.1:{free_port()}/inventory/v1"
    version = fill_cart(client, (jumper, 1))

    response = place(client, version)

    assert response.status_code == 409
    assert "We couldn&#x27;t check our stock just now. Nothing was charged" in response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "inventory unavailable"
    intents = [
        i
        for i in stripe_get(outside, "payment_intents?limit=100")["data"]
        if i["metadata"].get("order_number") == order.number
    ]
    assert [i["status"] for i in intents] == ["canceled"]
    assert stock(jumper) == (3, 0)
    # The page offers a fresh attempt, which succeeds once the inventory is back.
    version = int(re.search(r'name="cart_version" value="(\d+)"', response.content.decode()).group(1))
    outside.INVENTORY_API_URL = f"{threaded_shop.url}/inventory/v1"
    retry = place(client, version)
    assert retry.status_code == 302 and "/pay/" in retry["Location"]
    assert stock(jumper) == (3, 1)


def test_inventory_timeout_cancels_the_payment_intent(outside, shipping, client, jumper, threaded_shop):
    proxy = DelayProxy(target=threaded_shop.url, name="inventory", delay=2.0).start()
    try:
        outside.INVENTORY_API_URL = f"{proxy.url}/inventory/v1"
        outside.INVENTORY_API_TIMEOUT = 0.5
        version = fill_cart(client, (jumper, 1))
        response = place(client, version)
    finally:
        proxy.stop()
    assert response.status_code == 409
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "inventory unavailable"
    assert not Payment.objects.exists()


def test_stripe_down_releases_the_reservation(outside, shipping, client, jumper):
    outside.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    outside.STRIPE_MAX_NETWORK_RETRIES = 0
    version = fill_cart(client, (jumper, 2))

    response = place(client, version)

    assert response.status_code == 409
    assert "Our payment provider is not answering just now. Nothing was charged" in response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED and order.cancel_reason == "payment provider unavailable"
    assert Reservation.objects.get().status == "released"
    assert stock(jumper) == (3, 0)
    assert CartLine.objects.get().quantity == 2

    # Once Stripe is back, placing again works, as a new order.
    outside.STRIPE_API_BASE = outside.STRIPE_JS_URL.split("/js.stripe.com")[0]
    version = int(re.search(r'name="cart_version" value="(\d+)"', response.content.decode()).group(1))
    retry = place(client, version)
    assert retry.status_code == 302 and "/pay/" in retry["Location"]
    assert Order.objects.filter(payment_status=Order.PaymentStatus.AWAITING).count() == 1
    assert stock(jumper) == (3, 2)


def test_payment_and_inventory_calls_run_at_the_same_time(outside, shipping, client, jumper, threaded_shop):
    """Both outside calls start before either finishes (each is held 0.4 s by a proxy)."""
    stripe_proxy = DelayProxy(target=outside.STRIPE_API_BASE, name="stripe", delay=0.4).start()
    inventory_proxy = DelayProxy(target=threaded_shop.url, name="inventory", delay=0.4).start()
    events: list = []
    stripe_proxy.events = inventory_proxy.events = events
    try:
        outside.STRIPE_API_BASE = stripe_proxy.url
        outside.INVENTORY_API_URL = f"{inventory_proxy.url}/inventory/v1"
        version = fill_cart(client, (jumper, 1))
        response = place(client, version)
    finally:
        stripe_proxy.stop()
        inventory_proxy.stop()
    assert response.status_code == 302
    order = [(kind, name) for kind, name, _ in sorted(events, key=lambda event: event[2])]
    assert sorted(order[:2]) == [("start", "inventory"), ("start", "stripe")]
    assert sorted(order[2:]) == [("end", "inventory"), ("end", "stripe")]


def test_cart_changed_in_another_tab(outside, shipping, client, jumper, mug):
    version = fill_cart(client, (jumper, 1))
    client.post("/cart/add/", {"variant": mug.pk, "quantity": 1})  # the other tab

    response = place(client, version)

    assert response.status_code == 409
    assert "Your cart changed (perhaps in another tab)" in response.content.decode()
    assert not Order.objects.exists() and not Reservation.objects.exists()


def test_a_delivery_method_not_offered_is_shown_to_confirm_with_nothing_left_behind(
    outside, shipping, client, jumper
):
    version = fill_cart(client, (jumper, 1))
    response = place(client, version, shipping_method="teleport")
    assert response.status_code == 409
    body = " ".join(response.content.decode().split())
    assert (
        "The delivery option you chose is not available for this address; the totals below are with Standard."
        in body
    )
    assert not Order.objects.exists() and not Reservation.objects.exists()
    assert stock(jumper) == (3, 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"full_name": ""}, "This field is required."),
        ({"postcode": "12345"}, "Enter a valid UK postcode"),
        ({"country": "XX"}, "Sorry, we do not deliver to that country. Please choose one of those listed."),
        ({"country": "US"}, "Sorry, we do not deliver to that country. Please choose one of those listed."),
        (
            {"shipping_method": "tele port"},
            "Please choose one of the delivery options shown for this address.",
        ),
        ({"shipping_method": ""}, "Please choose a delivery option."),
        ({"cart_version": "abc"}, "This checkout page is out of date."),
        ({"line1": "x" * 500}, "Ensure this value has at most 120 characters"),
    ],
)
def test_bad_checkout_input_is_refused_with_nothing_left_behind(
    outside, shipping, client, jumper, overrides, message
):
    version = fill_cart(client, (jumper, 1))
    intents_before = len(stripe_get(outside, "payment_intents?limit=100")["data"])
    response = place(client, version, **overrides)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists() and not Reservation.objects.exists()
    assert len(stripe_get(outside, "payment_intents?limit=100")["data"]) == intents_before
    assert stock(jumper) == (3, 0)


def test_checkout_needs_csrf(outside, shipping, jumper):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/checkout/", {**ADDRESS, "cart_version": 1})
    assert response.status_code == 403
    assert not Order.objects.exists()


def test_empty_cart_cannot_check_out(outside, shipping, client):
    assert client.get("/checkout/")["Location"] == "/cart/"
    response = place(client, 1)
    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert not Order.objects.exists()


def test_order_page_is_private(outside, shipping, client, jumper):
    version = fill_cart(client, (jumper, 1))
    place(client, version)
    order = Order.objects.get()

    stranger = Client()
    assert stranger.get(f"/order/{order.public_token}/").status_code == 200  # guests: the link is the key
    assert stranger.get("/order/not-the-token/").status_code == 404
    assert stranger.get(f"/order/{order.number}/").status_code == 404


@pytest.mark.django_db
def test_recording_a_placement_is_idempotent_and_leaves_lines_added_meanwhile(shipping, client, jumper, mug):
    from checkout.clients import inventory
    from checkout.clients import stripe as stripe_api

    version = fill_cart(client, (jumper, 1))
    cart = Cart.objects.get()
    order, created = order_create(
        cart_id=cart.pk,
        cart_version=version,
        user_id=None,
        email="ann@example.com",
        address=ShippingAddress(
            **{k: ADDRESS[k] for k in ("full_name", "line1", "city", "postcode", "country")},
            line2="",
            phone="",
        ),
        shipping_method_code="standard",
        seen_prices=prices_seen(cart),
    )
    assert created
    CartLine.objects.create(cart=cart, variant=mug, quantity=2)  # added in another tab meanwhile
    intent = stripe_api.PaymentIntent(
        id="pi_test_1",
        status="requires_payment_method",
        amount=order.total,
        currency="gbp",
        client_secret="s",
        metadata={},
    )
    reservation = inventory.Reservation(id="res_1", status="held", expires_at=None)
    for _ in range(2):  # a resumed placement records it again
        order_payment_started(
            order_id=order.pk, cart_id=cart.pk, payment_intent=intent, reservation=reservation
        )
    assert list(Payment.objects.values_list("order_id", "attempt", "payment_intent_id", "amount")) == [
        (order.pk, 1, "pi_test_1", order.total)
    ]
    assert list(CartLine.objects.values_list("variant_id", "quantity")) == [(mug.pk, 2)]
    assert Cart.objects.get().version == version + 2
