"""Characters PostgreSQL cannot store (NUL, lone surrogates) never reach a 500.

The walks read the URLconf, so a route added later is covered here too: a NUL in
every path argument, and in the query and form fields the views read, as a visitor
and as staff, answers 4xx, and changes nothing.
"""

import re

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Address
from checkout.models import CartLine, Order, OrderEvent, Payment, Refund, WebhookEvent
from inventory.models import Stock
from tests.factories import OrderFactory, PaymentFactory, StockFactory, UserFactory
from tests.urlwalk import routes

NUL = "%00"
# The fields any view reads from the query string or the form body.
FIELDS = (
    "q", "page", "level", "status", "date_from", "date_to", "flagged", "sort", "min_price", "max_price",
    "in_stock", "size", "colour", "address", "next", "variant", "quantity", "remove", "email", "password",
    "username", "full_name", "line1", "line2", "city", "postcode", "country", "phone", "shipping_method",
    "cart_version", "carrier", "tracking_number", "amount", "reason", "request_key", "on_hand", "sku",
    "new_password1", "new_password2", "old_password", "password1", "password2", "label", "is_default",
)  # fmt: skip
NO_FIELDS = {
    "account:address-delete",
    "account:address-default",
    "dashboard:order-resolve-flag",
    "dashboard:webhook-replay",
}
ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")


def nul_urls(value: str) -> list[tuple[str, str]]:
    """Return (name, URL) for every route with `value` in each of its arguments."""
    urls = []
    for name, route, _pattern in routes():
        if "^" in route:
            # A regex route: whatever follows its fixed prefix.
            urls.append((name, "/" + route.split("^", 1)[0] + f"x{value}/"))
        elif ARGUMENT.search(route):
            urls.append((name, "/" + ARGUMENT.sub(f"NW100001{value}", route)))
    return urls


def query_with(value: str) -> str:
    return "&".join(f"{field}=a{value}b" for field in FIELDS)


def form_with(value: str) -> dict[str, str]:
    return {field: f"a{value}b" for field in FIELDS}


def clients(shopper=None) -> list[tuple[str, Client]]:
    staff = UserFactory(is_staff=True, is_superuser=True)
    shopper = shopper or UserFactory()
    signed_in_staff, signed_in_shopper = (
        Client(raise_request_exception=False),
        Client(raise_request_exception=False),
    )
    signed_in_staff.force_login(staff)
    signed_in_shopper.force_login(shopper)
    inventory_caller = Client(
        raise_request_exception=False, headers={"Authorization": f"Bearer {settings.INVENTORY_API_TOKEN}"}
    )
    return [
        ("visitor", Client(raise_request_exception=False)),
        ("shopper", signed_in_shopper),
        ("staff", signed_in_staff),
        ("inventory caller", inventory_caller),
    ]


def _failures(client: Client, who: str, url: str) -> list[str]:
    failures = []
    for method, response in (
        ("GET", client.get(url)),
        ("POST", client.post(url)),
    ):
        if response.status_code >= 500:
            failures.append(f"{who} {method} {url}: {response.status_code}")
    return failures


@pytest.mark.django_db
def test_a_nul_in_any_path_argument_is_never_a_server_error():
    failures = []
    urls = nul_urls(NUL)
    assert ("dashboard:order-detail", "/dashboard/orders/NW100001%00/") in urls
    for who, client in clients():
        for _name, url in urls:
            failures += _failures(client, who, url)
    assert failures == []


@pytest.mark.django_db
def test_a_nul_in_any_field_of_any_page_is_never_a_server_error():
    failures = []
    for who, client in clients():
        for name, route, _pattern in routes():
            if "^" in route or ARGUMENT.search(route) or name == "checkout:stripe-webhook":
                continue
            url = "/" + route
            for method, response in (
                ("GET", client.get(f"{url}?{query_with(NUL)}")),
                ("POST", client.post(url, form_with("\x00"))),
            ):
                if response.status_code >= 500:
                    failures.append(f"{who} {method} {url}: {response.status_code}")
    assert failures == []
    assert not CartLine.objects.exists() and not Order.objects.exists()
    assert not OrderEvent.objects.exists() and not Stock.objects.exists()


@pytest.mark.django_db
def test_a_nul_in_the_delivery_country_of_a_cart_is_never_a_server_error(client, shipping, jumper):
    assert client.post("/cart/add/", {"variant": jumper.pk, "quantity": 1}).status_code == 302

    totals = client.get("/checkout/totals/", {"country": "G\x00B", "shipping_method": "standard"})
    page = client.post("/checkout/", {**form_with("\x00"), "country": "G\x00B"})

    assert totals.status_code == 200 and "£4.95" in totals.json()["methods"]  # priced for home
    assert page.status_code == 400
    assert (
        "Sorry, we do not deliver to that country. Please choose one of those listed."
        in page.content.decode()
    )
    assert not Order.objects.exists()


def database_state() -> tuple:
    return (
        list(Order.objects.values_list("number", "status", "is_flagged", "carrier", "cancel_reason")),
        list(Payment.objects.values_list("status", "amount")),
        Refund.objects.count(),
        list(Stock.objects.values_list("on_hand", "allocated")),
        list(Address.objects.values_list("full_name", "is_default")),
        OrderEvent.objects.count(),
        CartLine.objects.count(),
    )


@pytest.mark.django_db
def test_a_nul_in_any_field_of_the_pages_of_one_thing_is_never_a_server_error():
    """The order, address, stock and webhook pages and their actions, with real ids.

    The actions that read no field (NO_FIELDS) may run; every other one is refused.
    """
    shopper = UserFactory()
    order = PaymentFactory(order=OrderFactory(user=shopper)).order
    address = Address.objects.create(
        user=shopper, full_name="Ann Walker", line1="1 Road", city="Kendal", postcode="LA9 4DT"
    )
    stock = StockFactory(on_hand=5)
    webhook = WebhookEvent.objects.create(
        stripe_event_id="evt_nul", type="customer.created", payload={"id": "evt_nul"}, error="failed"
    )
    values = {
        "number": order.number,
        "token": order.public_token,
        "pk": str(address.pk),
        "variant_id": str(stock.variant_id),
        "image_id": "1",
        "uidb64": "MQ",
        "slug": "no-such-thing",
    }
    before = database_state()
    failures = []
    with_arguments = [
        (name, route)
        for name, route, _pattern in routes()
        if "^" not in route and ARGUMENT.search(route) and not route.startswith(("admin/", "inventory/"))
    ]
    visitors = clients(shopper)
    # Actions that read no field run last: they may do their work.
    for batch in (
        [route for route in with_arguments if route[0] not in NO_FIELDS],
        [route for route in with_arguments if route[0] in NO_FIELDS],
    ):
        for who, client in visitors:
            for _name, route in batch:
                url = "/" + ARGUMENT.sub(lambda match: values[match[1]], route)
                if _name == "dashboard:webhook-replay":
                    url = url.replace(f"/{address.pk}/", f"/{webhook.pk}/")
                for method, response in (
                    ("GET", client.get(f"{url}?{query_with(NUL)}")),
                    ("POST", client.post(url, form_with("\x00"))),
                ):
                    if response.status_code >= 500:
                        failures.append(f"{who} {method} {url}: {response.status_code}")
        if batch[0][0] not in NO_FIELDS:
            assert database_state() == before
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", ["sessionid", "csrftoken", "messages", "cart_count"])
def test_a_cookie_with_a_nul_is_ignored_like_no_cookie(cookie):
    client = Client(raise_request_exception=False)
    client.cookies[cookie] = "abcdefgh\x00ijklmnop"
    home, cart = client.get("/"), client.get("/cart/")
    assert (home.status_code, cart.status_code) == (200, 200)
    assert "Your cart is empty" in cart.content.decode()


@pytest.mark.django_db
def test_the_inventory_api_refuses_text_it_could_not_store():
    """A lone surrogate ("\\ud800" in JSON) and a NUL in the key header are 400s, and hold nothing."""
    stock = StockFactory(on_hand=5)
    client = Client(raise_request_exception=False)
    auth = {"Authorization": f"Bearer {settings.INVENTORY_API_TOKEN}"}
    cases = [
        (
            f'{{"reference": "order-\\ud800", "lines": [{{"sku": "{stock.variant.sku}", "quantity": 1}}]}}',
            "k1",
        ),
        ('{"reference": "order-1", "lines": [{"sku": "A\\udfff", "quantity": 1}]}', "k2"),
        (f'{{"reference": "order-1", "lines": [{{"sku": "{stock.variant.sku}", "quantity": 1}}]}}', "k\x003"),
    ]
    answers = [
        client.post(
            "/inventory/v1/reservations",
            body,
            content_type="application/json",
            headers={**auth, "Idempotency-Key": key},
        )
        for body, key in cases
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert [answer.json() for answer in answers] == [
        {
            "error": "invalid_request",
            "detail": "reference must be a string of 1 to 100 characters, without NUL.",
            "message": "reference must be a string of 1 to 100 characters, without NUL.",
            "retryable": False,
        },
        {
            "error": "invalid_request",
            "detail": "lines[0].sku must be a string of 1 to 64 characters, without NUL.",
            "message": "lines[0].sku must be a string of 1 to 64 characters, without NUL.",
            "retryable": False,
        },
        {
            "error": "invalid_request",
            "detail": "The Idempotency-Key header must not contain a NUL byte.",
            "message": "The Idempotency-Key header must not contain a NUL byte.",
            "retryable": False,
        },
    ]
    assert list(Stock.objects.values_list("on_hand", "allocated")) == [(5, 0)]
