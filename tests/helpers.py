"""Small helpers that several test modules share (test modules never import each other)."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import stripe
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from checkout import selectors
from checkout.models import Cart, Order, Payment
from checkout.quote import Quote


def prices_seen(cart: Cart, *, country: str = "GB", method: str = "standard") -> Quote:
    """Return what the checkout page would show for `cart` delivered to `country` by `method`
    now, as placement compares it."""

    async def read() -> Quote:
        summary = await selectors.cart_summary(cart=cart)
        price = await selectors.checkout_price_for(summary=summary, country=country, method_code=method)
        return selectors.checkout_quote(summary=summary, price=price)

    return async_to_sync(read)()


def home_standard_delivery() -> None:
    """Make sure a standard delivery method (£4.95) reaches the UK, as the seeded shop has one."""
    from shipping.models import ShippingBand, ShippingMethod, ShippingZone

    zones = ShippingZone.objects.filter(is_active=True, countries__contains=["GB"]).order_by("position", "id")
    zone = zones.first() or ShippingZone.objects.create(name="United Kingdom", countries=["GB"])
    method, created = ShippingMethod.objects.get_or_create(
        zone=zone, code="standard", defaults={"name": "Standard delivery"}
    )
    if created or not method.bands.exists():
        ShippingBand.objects.create(method=method, lower=0, price=495)
    ShippingMethod.objects.filter(pk=method.pk).update(is_active=True)


ADDRESS = {
    "email": "ann@example.com",
    "full_name": "Ann Walker",
    "line1": "1 High Street",
    "line2": "",
    "city": "Kendal",
    "postcode": "la9 4dt",
    "country": "GB",
    "phone": "",
    "shipping_method": "standard",
}


def stripe_get(settings, path: str) -> dict:
    response = httpx.get(
        f"{settings.STRIPE_API_BASE}/v1/{path}",
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def fill_cart(client, *items) -> int:
    for variant, quantity in items:
        response = client.post("/cart/add/", {"variant": variant.pk, "quantity": quantity})
        assert response.status_code == 302
    return Cart.objects.latest("updated_at").version


def checkout_form(client, version, **overrides) -> dict:
    """Return the checkout form as the page shown now would send it, its signed prices those
    shown for the country and delivery method chosen (as the page's script fetches them)."""
    form = {**ADDRESS, "cart_version": version, **overrides}
    query = {"country": form["country"], "shipping_method": form["shipping_method"]}
    response = client.get("/checkout/totals/", query)
    quote = response.json()["quote"] if response.status_code == 200 else ""
    return {"quote": quote, **form}


def place(client, version, **overrides):
    return client.post("/checkout/", checkout_form(client, version, **overrides))


GOOD_CARD = "4242424242424242"


DECLINED_CARD = "4000000000000341"


class Browser:
    """What the payment page's script and Stripe.js do, step by step, over real HTTP."""

    def __init__(self, client: Client, stripe_url: str, order: Order) -> None:
        self.client = client
        self.stripe_url = stripe_url
        self.order = order

    def post_json(self, path: str, body: dict | None = None):
        return self.client.post(path, data=json.dumps(body or {}), content_type="application/json")

    def set_up_card(self, number: str, *, pass_challenge: bool = True) -> str:
        response = self.post_json(f"/order/{self.order.public_token}/pay/setup/")
        assert response.status_code == 200, response.content
        secret = response.json()["client_secret"]
        setup_id = secret.split("_secret_")[0]
        body = {
            "key": "pk_test_suite",
            "use_stripe_sdk": True,
            "client_secret": secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "34", "cvc": "123"},
                "billing_details": {"address": {"postal_code": "42424"}},
            },
        }
        result = httpx.post(
            f"{self.stripe_url}/v1/setup_intents/{setup_id}/confirm", content=json.dumps(body)
        ).json()
        if result["status"] == "requires_action":
            action = "confirm" if pass_challenge else "cancel"
            result = httpx.post(
                f"{self.stripe_url}/v1/setup_intents/{setup_id}/{action}",
                content=json.dumps({"key": "pk_test_suite", "use_stripe_sdk": True, "client_secret": secret}),
            ).json()
        return setup_id

    def pay(self, number: str):
        setup_id = self.set_up_card(number)
        return self.post_json(f"/order/{self.order.public_token}/pay/confirm/", {"setup_intent": setup_id})

    def authenticate(self, client_secret: str, *, success: bool) -> None:
        intent_id = client_secret.split("_secret_")[0]
        httpx.post(
            f"{self.stripe_url}/v1/payment_intents/{intent_id}/_authenticate"
            f"?success={'true' if success else 'false'}",
            content=json.dumps({"key": "pk_test_suite", "client_secret": client_secret}),
        )


def _test_database_url() -> str:
    settings = connection.settings_dict
    url = urlsplit(f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/")
    return urlunsplit(url._replace(path=f"/{settings['NAME']}"))


def list_payment_intents(stripe_url: str) -> list[dict]:
    intents, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        page = httpx.get(
            f"{stripe_url}/v1/payment_intents",
            params=params,
            headers={"Authorization": "Bearer sk_test_suite"},
        ).json()
        intents.extend(page["data"])
        if not page["has_more"]:
            return intents
        after = page["data"][-1]["id"]


def run_due_tasks() -> None:
    DBTaskResult.objects.update(run_after=timezone.now())
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def pay_behind_our_back(settings, client, order: Order, card: str = GOOD_CARD) -> dict:
    """Charge the order's PaymentIntent straight through Stripe, as if the browser's return never came."""
    browser = Browser(client, settings.STRIPE_API_BASE, order)
    setup_id = browser.set_up_card(card)
    setup = stripe_api(settings, "GET", f"setup_intents/{setup_id}")
    payment = Payment.objects.get(order=order)
    stripe_api(
        settings,
        "POST",
        f"payment_intents/{payment.payment_intent_id}",
        {"payment_method": setup["payment_method"], "customer": setup["customer"]},
    )
    return stripe_api(settings, "POST", f"payment_intents/{payment.payment_intent_id}/confirm")


def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


SECRET = "whsec_test_suite"


def stripe_api(settings, method: str, path: str, data: dict | None = None) -> dict:
    response = httpx.request(
        method,
        f"{settings.STRIPE_API_BASE}/v1/{path}",
        data=data,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def charge_in_stripe(settings, order: Order, *, amount: int | None = None) -> dict:
    """Charge the order's PaymentIntent with a test card straight through Stripe; return it.

    With `amount` the PaymentIntent is first changed to charge that instead of the order's total.
    """
    intent_id = Payment.objects.get(order=order).payment_intent_id
    update = {"payment_method": "pm_card_visa"}
    if amount is not None:
        update["amount"] = str(amount)
    stripe_api(settings, "POST", f"payment_intents/{intent_id}", update)
    return stripe_api(settings, "POST", f"payment_intents/{intent_id}/confirm")


def deliver(client, body: dict | bytes, *, secret: str = SECRET, timestamp: int | None = None, header=True):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if header:
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            payload.decode("utf-8", "replace"), secret, timestamp
        )
    return client.post("/webhooks/stripe/", data=payload, content_type="application/json", headers=headers)


#: An order's three states (its own, its payment's, its goods') in the situations tests set up by hand.
ORDER_STATES = {
    "awaiting": ("open", "awaiting", "unfulfilled"),
    "paid": ("open", "paid", "unfulfilled"),
    "shipped": ("closed", "paid", "fulfilled"),
    "partly_refunded": ("open", "partially_refunded", "unfulfilled"),
    "shipped_partly_refunded": ("closed", "partially_refunded", "fulfilled"),
    "refunded": ("closed", "refunded", "unfulfilled"),
    "canceled": ("canceled", "voided", "unfulfilled"),
}


def order_states(situation: str) -> dict[str, str]:
    """Return the Order fields for a situation named in ORDER_STATES, e.g. "shipped"."""
    status, payment_status, fulfilment_status = ORDER_STATES[situation]
    return {"status": status, "payment_status": payment_status, "fulfilment_status": fulfilment_status}
