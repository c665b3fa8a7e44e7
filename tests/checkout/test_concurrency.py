"""Many shoppers at once: stock is never oversold, and everyone is told what happened."""

import asyncio
import secrets

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore

from checkout.models import Cart, CartLine, Order, Payment
from inventory.models import Reservation, Stock
from tests.audit import assert_audit_clean
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory
from tests.helpers import _test_database_url, list_payment_intents, prices_seen
from tests.servers import ShopProcess

BUYERS = 200
UNITS = 10


@pytest.fixture
def shop_process(outside, localstripe):
    server = ShopProcess(
        database_url=_test_database_url(),
        env={
            "STRIPE_API_BASE": localstripe.url,
            "INVENTORY_API_TIMEOUT": "20",
            "STRIPE_TIMEOUT": "20",
            # Every buyer here comes from 127.0.0.1.
            "RATE_LIMIT_PLACE_ORDER": "off",
        },
    )
    yield server
    server.stop()


@pytest.mark.slow
def test_200_buyers_for_10_units(outside, shipping, shop_process, localstripe):
    variant = VariantFactory(
        product=ProductFactory(title="Last Few Lanterns", category=CategoryFactory()),
        sku="LANTERN",
        price=4500,
    )
    StockFactory(variant=variant, on_hand=UNITS)
    carts = Cart.objects.bulk_create([Cart() for _ in range(BUYERS)])
    CartLine.objects.bulk_create([CartLine(cart=cart, variant=variant, quantity=1) for cart in carts])
    buyers = []
    for cart in carts:
        session = SessionStore()
        session["cart_id"] = cart.pk
        session.create()
        buyers.append((session.session_key, secrets.token_hex(16)))

    seen = prices_seen(carts[0]).sign()  # every cart holds the same line

    async def buy(client: httpx.AsyncClient, session_key: str, csrf: str) -> httpx.Response:
        return await client.post(
            f"{shop_process.url}/checkout/",
            data={
                "csrfmiddlewaretoken": csrf,
                "cart_version": 1,
                "quote": seen,
                "email": "buyer@example.com",
                "full_name": "A Buyer",
                "line1": "1 Road",
                "city": "Leeds",
                "postcode": "LS1 1AA",
                "country": "GB",
                "shipping_method": "standard",
            },
            headers={"Cookie": f"sessionid={session_key}; csrftoken={csrf}"},
        )

    async def everyone() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            return await asyncio.gather(*(buy(client, key, csrf) for key, csrf in buyers))

    responses = asyncio.run(everyone())

    assert sorted({response.status_code for response in responses}) == [302]
    placed = [r for r in responses if r.headers["location"].endswith("/pay/")]
    told_out_of_stock = [r for r in responses if r.headers["location"] == "/cart/"]
    assert len(placed) == UNITS
    assert len(told_out_of_stock) == BUYERS - UNITS
    # What a buyer who missed out reads on the cart page the redirect leads to.
    key, csrf = buyers[responses.index(told_out_of_stock[0])]
    cart_page = httpx.get(
        f"{shop_process.url}/cart/",
        headers={"Cookie": f"sessionid={key}; messages={told_out_of_stock[0].cookies['messages']}"},
    ).text
    assert "Sorry — Last Few Lanterns has just sold out. Nothing was charged" in cart_page

    stock = Stock.objects.get(variant=variant)
    assert (stock.on_hand, stock.allocated) == (UNITS, UNITS)
    assert Reservation.objects.filter(status="held").count() == UNITS
    assert Order.objects.filter(payment_status="awaiting").count() == UNITS
    canceled = Order.objects.filter(status="canceled")
    assert canceled.count() == BUYERS - UNITS
    assert all(
        reason.startswith("out of stock: LANTERN")
        for reason in canceled.values_list("cancel_reason", flat=True)
    )
    assert Payment.objects.count() == UNITS
    # Every PaymentIntent of a buyer who got nothing was canceled: nobody can be charged for it.
    intents = list_payment_intents(localstripe.url)
    assert len(intents) == BUYERS
    live = {intent["id"] for intent in intents if intent["status"] != "canceled"}
    assert live == set(Payment.objects.values_list("payment_intent_id", flat=True))
    assert_audit_clean()
