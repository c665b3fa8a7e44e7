"""Security, each claim proven: CSRF on every form, staff-only pages, nobody else's orders,
prices from the server only, escaping everywhere, per-client rate limits and the CSP.

The URL walks below read the URLconf itself, so a page or form added later is covered
without touching this file (or fails here until it is protected).
"""

import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from django.utils.html import escape

from accounts.models import Address
from checkout.models import Order, Payment, Refund, WebhookEvent
from inventory.models import Stock, StockAdjustment
from shipping.models import ShippingMethod
from shop.models import RateLimitCounter
from shop.ratelimit import Rate, client_ip, rate_parse
from tests.factories import (
    CategoryFactory,
    OrderFactory,
    PaymentFactory,
    ProductFactory,
    StockFactory,
    UserFactory,
    VariantFactory,
)
from tests.helpers import (
    ADDRESS,
    GOOD_CARD,
    Browser,
    deliver,
    event,
    fill_cart,
    order_states,
    place,
    stripe_get,
)
from tests.servers import ShopProcess

User = get_user_model()
PASSWORD = "correct horse battery"

# Views that take no CSRF token, and why: Stripe signs its webhook (checked first, see
# checkout.webhooks.event_verify) and sends no cookie; the inventory API is called by
# services with a bearer token, never with a browser's cookies, so a forged cross-site
# request carries no credentials.
CSRF_EXEMPT_VIEWS = {"checkout:stripe-webhook"}
CSRF_EXEMPT_NAMESPACES = {"inventory"}


# Walking the URLconf ------------------------------------------------------------------


def walk(patterns=None, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Yield (name with namespace, pattern) for every route in the URLconf."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from walk(entry.url_patterns, inner or namespace)
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield name, entry


def sample_url(name: str, pattern: URLPattern, values: dict[str, str] | None = None) -> str | None:
    """Return a URL for the route, filling its arguments with `values` or made-up ones."""
    values = values or {}
    converters = getattr(pattern.pattern, "converters", {})
    regex_names = list(pattern.pattern.regex.groupindex)
    choices: dict[str, list[str]] = {}
    for argument in regex_names:
        if argument in values:
            choices[argument] = [values[argument]]
        elif isinstance(converters.get(argument), IntConverter):
            choices[argument] = ["1"]
        else:
            choices[argument] = ["1", "x", "auth", "catalog", "checkout", "NW100001", "t" * 32]
    attempts = [{}]
    for argument, options in choices.items():
        attempts = [{**attempt, argument: option} for attempt in attempts for option in options]
    for kwargs in attempts:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def is_csrf_exempt(pattern: URLPattern) -> bool:
    return bool(getattr(pattern.callback, "csrf_exempt", False))


# 1. CSRF ------------------------------------------------------------------------------


def test_only_the_webhook_and_the_inventory_api_are_csrf_exempt():
    exempt = {name or pattern.pattern.regex.pattern for name, pattern in walk() if is_csrf_exempt(pattern)}
    allowed = {
        name for name in exempt if name in CSRF_EXEMPT_VIEWS or name.split(":")[0] in CSRF_EXEMPT_NAMESPACES
    }
    assert exempt == allowed, f"views without CSRF protection: {sorted(exempt - allowed)}"
    assert "checkout:stripe-webhook" in exempt and "inventory:reservation-list" in exempt


@pytest.mark.django_db
def test_every_other_url_refuses_a_post_without_a_csrf_token():
    """Whatever its method rules, every route answers a tokenless POST with the CSRF page."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    checked, refused = [], []
    for name, pattern in walk():
        if not name or is_csrf_exempt(pattern):
            continue
        url = sample_url(name, pattern)
        assert url is not None, f"no sample URL for {name}"
        response = client.post(url, {"email": "x@example.com", "quantity": "1"})
        checked.append(name)
        body = response.content.decode()
        if response.status_code != 403 or "without a valid security token" not in body:
            refused.append(f"{name} {url}: {response.status_code}")
    assert refused == []
    for expected in (
        "catalog:product-detail",
        "checkout:cart-add",
        "checkout:cart-update",
        "checkout:checkout",
        "checkout:order-pay-setup",
        "checkout:order-pay-confirm",
        "account:login",
        "account:logout",
        "account:signup",
        "account:address-add",
        "account:address-delete",
        "account:password-reset",
        "account:password-change",
        "dashboard:order-refund",
        "dashboard:order-cancel",
        "dashboard:order-fulfil",
        "dashboard:stock-adjust",
        "dashboard:webhook-replay",
        "admin:login",
        "admin:catalog_product_add",
    ):
        assert expected in checked


@pytest.mark.django_db
def test_the_csrf_page_says_why_and_changes_nothing(jumper_in_stock):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/cart/add/", {"variant": jumper_in_stock.pk, "quantity": 1})
    body = response.content.decode()
    assert response.status_code == 403
    assert "We couldn’t accept that form" in body and "reload the page and try again" in body
    assert "cart_count" not in response.cookies
    assert not Order.objects.exists()
    from checkout.models import CartLine

    assert not CartLine.objects.exists()


@pytest.mark.django_db
def test_a_form_with_its_token_is_accepted(jumper_in_stock):
    """The refusals above are CSRF, not something else: the same POST with the token gets through."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(jumper_in_stock.product.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(
        "/cart/add/", {"variant": jumper_in_stock.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response["Location"] == "/cart/"


def test_every_post_form_in_the_templates_carries_the_token():
    from django.conf import settings

    forms = 0
    for path in sorted((settings.BASE_DIR / "templates").rglob("*.html")):
        text = path.read_text()
        for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', form.group(0)[:300], re.I):
                forms += 1
                assert "{% csrf_token %}" in form[1], f"{path.name}: a POST form without {{% csrf_token %}}"
    assert forms >= 15


@pytest.mark.django_db
def test_the_webhook_takes_a_signed_post_without_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    intent = {"id": "pi_not_ours", "object": "payment_intent"}
    response = deliver(client, event("payment_intent.succeeded", intent))
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.filter(type="payment_intent.succeeded").count() == 1
    unsigned = deliver(client, event("payment_intent.succeeded", intent), secret="whsec_x")
    assert unsigned.status_code == 400


@pytest.mark.django_db
def test_the_inventory_api_wants_its_bearer_token_not_a_csrf_token(settings):
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"lines": []})
    refused = client.post("/inventory/v1/reservations", body, content_type="application/json")
    assert refused.status_code == 401
    accepted = client.post(
        "/inventory/v1/reservations",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.INVENTORY_API_TOKEN}"},
    )
    assert accepted.status_code == 400 and accepted.json()["error"] == "invalid_request"


# 2. Staff only ------------------------------------------------------------------------


@pytest.fixture
def jumper_in_stock():
    product = ProductFactory(title="Merino Jumper", slug="merino-jumper", price_from=6500)
    variant = VariantFactory(product=product, sku="JUMP-M", options={"size": "M"}, price=6500)
    StockFactory(variant=variant, on_hand=3)
    return variant


def make_order(number: str, *, user=None, state: str = "awaiting", **fields) -> Order:
    # `state` says where the order stands (tests.helpers.ORDER_STATES); its payment follows.
    values = {"email": f"{number.lower()}@example.com", **order_states(state)}
    order = OrderFactory(number=number, user=user, subtotal=1000, total=1000, **(values | fields))
    PaymentFactory(
        order=order,
        payment_intent_id=f"pi_{number}",
        status="succeeded" if state == "paid" else "requires_payment_method",
        amount_received=0,
    )
    return order


def dashboard_urls(order: Order, variant_id: int, event_pk: int) -> list[tuple[str, str]]:
    values = {"number": order.number, "variant_id": str(variant_id), "pk": str(event_pk)}
    urls = []
    for name, pattern in walk():
        if name.startswith("dashboard:"):
            url = sample_url(name, pattern, values)
            assert url is not None, name
            urls.append((name, url))
    return urls


@pytest.fixture
def dashboard_world(jumper_in_stock):
    order = make_order("NW1", state="paid")
    stored = WebhookEvent.objects.create(
        stripe_event_id="evt_1", type="payment_intent.succeeded", payload={"id": "evt_1"}
    )
    return order, jumper_in_stock, stored


def world_state(order: Order, variant) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.carrier,
        order.is_flagged,
        Refund.objects.count(),
        order.events.count(),
        Stock.objects.get(variant=variant).on_hand,
        StockAdjustment.objects.count(),
        WebhookEvent.objects.get().attempts,
    )


@pytest.mark.django_db
def test_every_dashboard_url_sends_anonymous_visitors_to_sign_in(client, dashboard_world):
    order, variant, stored = dashboard_world
    before = world_state(order, variant)
    urls = dashboard_urls(order, variant.pk, stored.pk)
    assert len(urls) >= 11
    for name, url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 405), (name, method.__name__, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/account/login/?next="), name
    assert world_state(order, variant) == before


@pytest.mark.django_db
def test_every_dashboard_url_refuses_customers(client, dashboard_world):
    order, variant, stored = dashboard_world
    before = world_state(order, variant)
    client.force_login(UserFactory())
    for name, url in dashboard_urls(order, variant.pk, stored.pk):
        for method in (client.get, client.post):
            data = {"amount": "5.00", "reason": "x", "request_key": "k", "on_hand": "0", "carrier": "c"}
            response = method(url, data) if method == client.post else method(url)
            assert response.status_code in (403, 405), (name, method.__name__, response.status_code)
            if response.status_code == 403:
                assert "You can’t open this page" in response.content.decode()
    assert world_state(order, variant) == before


@pytest.mark.django_db
def test_every_admin_url_is_for_staff_only(client):
    order = make_order("NW2")
    customer = UserFactory()
    values = {"object_id": str(order.pk), "content_type_id": "1"}
    admin_urls = []
    for name, pattern in walk():
        if name.startswith("admin:") and name not in ("admin:login", "admin:logout"):
            url = sample_url(name, pattern, values)
            assert url is not None, name
            admin_urls.append((name, url))
    assert len(admin_urls) > 40
    for visitor in (None, customer):
        client.logout()
        if visitor:
            client.force_login(visitor)
        for name, url in admin_urls:
            response = client.get(url)
            assert response.status_code == 302, (name, response.status_code)
            assert response["Location"].startswith("/admin/login/?next="), name
    # A customer cannot sign in to the admin either.
    client.logout()
    customer.set_password(PASSWORD)
    customer.save()
    response = client.post("/admin/login/", {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


# 3. Other people's orders -------------------------------------------------------------


def order_urls(token: str) -> list[str]:
    """Every route that names an order by its link."""
    urls = []
    for name, pattern in walk():
        if "token" in pattern.pattern.regex.groupindex and name.startswith("checkout:"):
            # Written out, not reversed: a guess of the wrong shape must reach the resolver too.
            urls.append("/" + str(pattern.pattern).replace("<order_token:token>", token))
    return urls


@pytest.mark.django_db
def test_a_customer_cannot_see_or_act_on_another_customers_order():
    owner, stranger = UserFactory(), UserFactory()
    order = make_order("NW3", user=owner)
    before = (order.status, Payment.objects.get().status, Payment.objects.count())
    urls = order_urls(order.public_token)
    assert len(urls) >= 5
    intruder = Client()
    intruder.force_login(stranger)
    for url in urls:
        assert intruder.get(url).status_code in (404, 405), url
        response = intruder.post(url, json.dumps({"setup_intent": "seti_1"}), content_type="application/json")
        assert response.status_code in (404, 405), url
    order.refresh_from_db()
    assert (order.status, Payment.objects.get().status, Payment.objects.count()) == before
    mine = Client()
    mine.force_login(owner)
    assert mine.get(order.get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_a_guest_order_opens_only_with_its_exact_link(client):
    order = make_order("NW4")
    token = order.public_token
    assert client.get(f"/order/{token}/").status_code == 200
    wrong = [
        secrets.token_urlsafe(24),
        token[:-1],
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token.swapcase(),
        order.number,
        str(order.pk),
    ]
    for guess in wrong:
        for url in order_urls(guess):
            assert client.get(url).status_code in (404, 405), url
            assert client.post(url).status_code in (404, 405), url
    for missing in ("/order/", "/order//", "/order//pay/", "/order/pay/"):
        assert client.get(missing).status_code == 404


@pytest.mark.django_db
def test_order_links_are_unguessable():
    tokens = [make_order(f"NW{100 + n}").public_token for n in range(50)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        # secrets.token_urlsafe(24): 32 URL-safe characters carrying 192 random bits.
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token), token
    alphabet = set("".join(tokens))
    assert len(alphabet) > 50  # drawn from the whole URL-safe alphabet, not digits or hex
    assert Order._meta.get_field("public_token").editable is False


# 4. Prices and totals come from the server --------------------------------------------

FORGED = {
    "price": "0.01",
    "unit_price": "1",
    "subtotal": "1",
    "total": "1",
    "amount": "1",
    "currency": "USD",
    "shipping_total": "0",
    "shipping_price": "0",
    "tax_total": "0",
    "tax_rate": "0",
    "discount": "99999",
    "line_total": "1",
}


def test_forged_prices_in_the_cart_change_nothing(outside, shipping, client, jumper):
    response = client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2, **FORGED})
    assert response.status_code == 302
    client.post("/cart/update/", {"variant": jumper.pk, "quantity": 2, **FORGED})
    body = client.get("/cart/").content.decode()
    assert "£130.00" in body and "£0.01" not in body and "$" not in body


def test_forged_totals_at_checkout_and_payment_change_nothing(outside, shipping, client, jumper):
    version = fill_cart(client, (jumper, 2))
    response = place(client, version, **FORGED)
    assert response.status_code == 302
    order = Order.objects.get()
    # 2 × 65.00 including VAT 13000*20/120 = 2166.67 -> 2167 (net 10833); free delivery over 75.00.
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total, order.currency) == (
        10833,
        0,
        2167,
        13000,
        "GBP",
    )
    assert [(line.unit_price, line.quantity) for line in order.lines.all()] == [(6500, 2)]
    payment = Payment.objects.get(order=order)
    intent = stripe_get(outside, f"payment_intents/{payment.payment_intent_id}")
    assert (intent["amount"], intent["currency"]) == (13000, "gbp")

    browser = Browser(client, outside.STRIPE_API_BASE, order)
    setup_id = browser.set_up_card(GOOD_CARD)
    paid = browser.post_json(
        f"/order/{order.public_token}/pay/confirm/",
        {"setup_intent": setup_id, "amount": 1, "currency": "usd", "total": 1},
    )
    assert paid.json()["status"] == "succeeded"
    payment = Payment.objects.filter(order=order, status="succeeded").get()
    intent = stripe_get(outside, f"payment_intents/{payment.payment_intent_id}")
    assert (intent["amount"], intent["currency"], intent["status"]) == (13000, "gbp", "succeeded")
    order.refresh_from_db()
    assert (order.payment_status, order.total) == ("paid", 13000)


# 5. Escaping --------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror")


def payload(label: str) -> str:
    """Text that runs script if a page prints it raw, in an element or in an attribute."""
    return f"{label}{SCRIPT}{BREAKOUT}"


def assert_escaped(where: str, body: str, *labels: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in body, f"{where}: raw markup {marker!r} in the page"
    for label in labels:
        assert escape(payload(label)) in body, f"{where}: {label} not shown escaped"


class InlineCode(HTMLParser):
    """Collect what the CSP would refuse: inline scripts and styles without a nonce, style
    attributes, event handler attributes and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag in ("script", "style") and "nonce" not in names and "src" not in names:
            self.refused.append(f"inline <{tag}>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.refused.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.refused.append(f"<{tag} {name}={value}>")


def assert_no_inline_code(where: str, body: str) -> None:
    """The CSP refuses inline code without a nonce: no page may need it."""
    parser = InlineCode()
    parser.feed(body)
    assert parser.refused == [], where


def test_every_page_escapes_what_users_and_staff_typed(outside, shipping, client, settings):
    # Staff-made catalogue: category, product, options and image text.
    category = CategoryFactory(name=payload("Category"), slug="cat", description=payload("CategoryText"))
    product = ProductFactory(
        category=category,
        title=payload("Title"),
        slug="thing",
        description=payload("Description"),
        price_from=6500,
    )
    variant = VariantFactory(
        product=product, sku="THING-1", options={payload("OptionName"): payload("OptionValue")}, price=6500
    )
    StockFactory(variant=variant, on_hand=5)
    ShippingMethod.objects.filter(code="standard").update(
        name=payload("Method"), description=payload("MethodText"), estimate=payload("Estimate")
    )

    # A shopper: name at sign-up, a saved address, an order with every free-text field.
    signup = client.post(
        "/account/signup/",
        {
            "email": "shopper@example.com",
            "first_name": payload("First"),
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert signup.status_code == 302
    address_fields = {
        "full_name": payload("Name"),
        "line1": payload("Line1"),
        "line2": payload("Line2"),
        "city": payload("City"),
        "postcode": "LA9 4DT",
        "country": "GB",
        "phone": "",
    }
    assert client.post("/account/addresses/add/", address_fields).status_code == 302
    email = f'"{SCRIPT}"@example.com'
    version = fill_cart(client, (variant, 1))
    assert place(client, version, **{**ADDRESS, **address_fields, "email": email}).status_code == 302
    order = Order.objects.get()
    assert order.email == email and order.full_name == payload("Name")
    pages: dict[str, str] = {}

    def page(where: str, url: str, viewer: Client = client, status: int = 200, **params) -> str:
        response = viewer.get(url, params)
        assert response.status_code == status, (where, response.status_code)
        body = response.content.decode()
        assert_no_inline_code(where, body)
        pages[where] = body
        return body

    pay = page("pay page", f"/order/{order.public_token}/pay/")
    assert_escaped("pay page", pay, "Title", "OptionValue", "Name", "Line1", "City")
    assert escape(email) in pay  # also inside the form's data-email attribute

    # Paid, then shipped and partly refunded by staff with their own free text.
    assert Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD).json()["status"] == "succeeded"
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True, email="sam@example.com"))
    refund = staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {"amount": "1.00", "reason": payload("Refund"), "request_key": "k1"},
    )
    assert refund.status_code == 302 and Refund.objects.get().reason == payload("Refund")
    fulfil = staff.post(
        f"/dashboard/orders/{order.number}/fulfil/",
        {"carrier": payload("Carrier")[:60], "tracking_number": payload("Tracking")},
    )
    assert fulfil.status_code == 302
    order.refresh_from_db()
    assert order.fulfilment_status == "fulfilled" and order.tracking_number == payload("Tracking")
    adjust = staff.post(
        f"/dashboard/stock/{variant.pk}/adjust/", {"on_hand": "4", "reason": payload("Stock")}
    )
    assert adjust.status_code == 302 and StockAdjustment.objects.get().reason == payload("Stock")
    Order.objects.filter(pk=order.pk).update(is_flagged=True, flag_reason=payload("Flag"))
    WebhookEvent.objects.create(
        stripe_event_id="evt_x", type="charge.refunded", payload={"metadata": {"note": SCRIPT + BREAKOUT}}
    )

    # A second order, canceled by staff with a reason the shopper sees.
    version = fill_cart(client, (variant, 1))
    assert place(client, version, **{**ADDRESS, "email": "shopper@example.com"}).status_code == 302
    second = Order.objects.exclude(pk=order.pk).get()
    cancel = staff.post(f"/dashboard/orders/{second.number}/cancel/", {"reason": payload("Cancel")})
    assert cancel.status_code == 302
    second.refresh_from_db()
    assert second.status == "canceled" and second.cancel_reason.endswith(payload("Cancel"))

    # The shopper's pages.
    assert_escaped("home", page("home", "/"), "Title")
    assert_escaped("category", page("category", category.get_absolute_url()), "Category", "Title")
    assert_escaped(
        "product",
        page("product", product.get_absolute_url()),
        "Title",
        "Description",
        "OptionValue",
        "Category",
    )
    search = page("search", "/search/", q=payload("Query"))
    assert_escaped("search", search, "Query")
    # One in the cart, then more than is in stock: the refusal names the product in a message.
    assert client.post("/cart/add/", {"variant": variant.pk, "quantity": 1}).status_code == 302
    client.get("/cart/")
    assert client.post("/cart/add/", {"variant": variant.pk, "quantity": 19}).status_code == 302
    cart = page("cart", "/cart/")
    assert_escaped("cart", cart, "Title", "OptionValue")
    assert "£65.00" in cart and escape(f"Sorry, only 4 of {payload('Title')}") in cart
    assert_escaped(
        "checkout",
        page("checkout", "/checkout/"),
        "Title",
        "Method",
        "MethodText",
        "Estimate",
        "Name",
        "Line1",
    )
    assert_escaped(
        "order page",
        page("order page", order.get_absolute_url()),
        "Title",
        "OptionValue",
        "Name",
        "Line1",
        "Line2",
        "City",
        "Method",
    )
    assert_escaped("canceled order", page("canceled order", second.get_absolute_url()), "Cancel")
    assert_escaped("account", page("account", "/account/"), "Name", "Line1", "City")
    address = Address.objects.get()
    assert_escaped(
        "address form", page("address form", f"/account/addresses/{address.pk}/edit/"), "Line1", "Name"
    )
    page("not found", "/products/nothing/", status=404)

    # Staff pages.
    assert_escaped("dashboard", page("dashboard", "/dashboard/", staff), "Flag")
    assert_escaped(
        "dashboard orders", page("dashboard orders", "/dashboard/orders/", staff, q=payload("Find")), "Find"
    )
    order_list = page("dashboard orders list", "/dashboard/orders/", staff)
    assert_escaped("dashboard orders list", order_list, "Flag")  # in a title="" attribute
    assert escape(email) in order_list
    detail = page("dashboard order", f"/dashboard/orders/{order.number}/", staff)
    assert_escaped(
        "dashboard order", detail, "Name", "Line1", "Line2", "City", "Title", "Refund", "Tracking", "Flag"
    )
    assert escape(email) in detail and escape(payload("Carrier")[:60]) in detail
    assert_escaped(
        "dashboard canceled order",
        page("dashboard canceled", f"/dashboard/orders/{second.number}/", staff),
        "Cancel",
    )
    assert_escaped("stock", page("stock", "/dashboard/stock/", staff, q="THING"), "Stock", "Title")
    assert_escaped("stock search", page("stock search", "/dashboard/stock/", staff, q=payload("Sku")), "Sku")
    for where, url in [
        ("admin products", "/admin/catalog/product/"),
        ("admin product", f"/admin/catalog/product/{product.pk}/change/"),
        ("admin category", f"/admin/catalog/category/{category.pk}/change/"),
        ("admin order", f"/admin/checkout/order/{order.pk}/change/"),
        ("admin events", "/admin/checkout/webhookevent/"),
        (
            "admin event",
            f"/admin/checkout/webhookevent/{WebhookEvent.objects.get(stripe_event_id='evt_x').pk}/change/",
        ),
    ]:
        assert_escaped(where, page(where, url, staff))
    assert escape(payload("Title")) in staff.get("/admin/catalog/product/").content.decode()

    # The HTML e-mails.
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    html = {m.subject: m.alternatives[0].content for m in mail.outbox if m.alternatives}
    confirmation = next(body for subject, body in html.items() if "is confirmed" in subject)
    notice = next(body for subject, body in html.items() if "on its way" in subject)
    assert_escaped("confirmation e-mail", confirmation, "Title", "OptionValue", "Name", "Method")
    assert_escaped("shipping e-mail", notice, "Name", "Tracking")
    assert len(pages) == 25


@pytest.mark.django_db
def test_the_csv_export_neutralises_formulas(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    dangerous = {
        "NW10": ('=HYPERLINK("http://evil.example","x")', "=cmd|'/Ccalc'!A0@example.com"),
        "NW11": ("+1+1", "+sum@example.com"),
        "NW12": ("-2+3", "-x@example.com"),
        "NW13": ("@SUM(1+1)", "at@example.com"),
        "NW14": ("\tTabbed", "tab@example.com"),
        "NW15": ("Ann Walker", "ann@example.com"),
    }
    for number, (name, email) in dangerous.items():
        make_order(number, full_name=name, email=email, state="paid")
    response = client.get("/dashboard/orders/export.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"

    async def body() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    rows = {row[0]: row for row in csv.reader(io.StringIO(async_to_sync(body)().decode()))}
    for number, (name, email) in dangerous.items():
        row = rows[number]
        cells = [cell for cell in row if cell]
        for cell in cells:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (number, cell)
        if number == "NW15":
            assert (row[6], row[7]) == (email, name)
        else:
            assert row[7] == f"'{name}"
    assert rows["NW10"][6] == "'=cmd|'/Ccalc'!A0@example.com"


def test_only_trusted_markup_is_marked_safe():
    """Every |safe, mark_safe and autoescape off is one we looked at: developer text or plain-text mail."""
    from django.conf import settings

    found = set()
    for path in sorted(settings.BASE_DIR.glob("*/**/*.py")) + sorted(
        (settings.BASE_DIR / "templates").rglob("*")
    ):
        if ".venv" in path.parts or "tests" in path.parts or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for marker in ("|safe", "mark_safe(", "SafeString(", "{% autoescape off %}", "|safeseq"):
            if marker in text:
                found.add((path.relative_to(settings.BASE_DIR).as_posix(), marker))
    assert found == {
        # Form help text written by us and Django's password validators.
        ("templates/account/_field.html", "|safe"),
        # Plain-text e-mails: not HTML, nothing to escape.
        ("templates/account/password_reset_email.txt", "{% autoescape off %}"),
        ("templates/checkout/email/order_confirmation.txt", "{% autoescape off %}"),
        ("templates/checkout/email/shipping_notice.txt", "{% autoescape off %}"),
    }, found


# 6. Rate limits -----------------------------------------------------------------------


def test_rates_are_read_from_settings_text():
    assert rate_parse("10/5m") == Rate(limit=10, period=300)
    assert rate_parse("100/h") == Rate(limit=100, period=3600)
    assert rate_parse(" 3 / 30s ") == Rate(limit=3, period=30)
    assert rate_parse("2/1d") == Rate(limit=2, period=86400)
    assert rate_parse("off") is None and rate_parse("") is None
    from django.core.exceptions import ImproperlyConfigured

    for bad in ("10", "10/5x", "0/5m", "10/0m", "ten/5m", "-1/5m"):
        with pytest.raises(ImproperlyConfigured):
            rate_parse(bad)


def test_the_client_is_the_connection_unless_our_proxies_say_otherwise(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.NUM_PROXIES = 0
    assert client_ip(request) == "10.0.0.9"  # no proxy: the header is the client's own claim
    settings.NUM_PROXIES = 1
    assert client_ip(request) == "203.0.113.7"  # what our load balancer saw, not the forged first entry
    settings.NUM_PROXIES = 2
    assert client_ip(request) == "6.6.6.6"
    settings.NUM_PROXIES = 1
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.9")) == "10.0.0.9"


def login(client: Client, email: str, password: str = "wrong password", **extra):
    return client.post("/account/login/", {"username": email, "password": password}, **extra)


@pytest.mark.django_db
def test_sign_in_is_limited_per_address_and_per_account(settings):
    settings.RATE_LIMIT_LOGIN = "3/5m"
    user = UserFactory(username="ada@example.com", email="ada@example.com")
    user.set_password(PASSWORD)
    user.save()
    client = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(3):
        assert login(client, "ada@example.com").status_code == 200
    refused = login(client, "ada@example.com", PASSWORD)
    body = refused.content.decode()
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 300
    assert "Too many sign-in attempts" in body and "Please wait 5 minutes and try again." in body
    assert 'value="ada@example.com"' in body  # the form is shown again, ready for later
    assert "_auth_user_id" not in client.session  # even the right password is not tried

    # The same account from another address: refused too (a guesser with many addresses).
    elsewhere = Client(REMOTE_ADDR="198.51.100.2")
    assert login(elsewhere, "ada@example.com", PASSWORD).status_code == 429
    # Another account from a fresh address is not affected.
    other = UserFactory(username="bob@example.com", email="bob@example.com")
    other.set_password(PASSWORD)
    other.save()
    assert login(Client(REMOTE_ADDR="198.51.100.3"), "bob@example.com", PASSWORD).status_code == 302
    # And the first address cannot move on to another account.
    assert login(client, "bob@example.com", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_sign_in_is_allowed_again_when_the_window_has_passed(settings):
    settings.RATE_LIMIT_LOGIN = "2/1s"
    user = UserFactory(username="ada@example.com", email="ada@example.com")
    user.set_password(PASSWORD)
    user.save()
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert [login(client, "ada@example.com").status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(1.1)
    assert login(client, "ada@example.com", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_counters_keep_no_address_or_e_mail_in_clear(settings):
    settings.RATE_LIMIT_LOGIN = "3/5m"
    login(Client(REMOTE_ADDR="198.51.100.1"), "ada@example.com")
    keys = list(RateLimitCounter.objects.values_list("key", "hits"))
    assert len(keys) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", key) and hits == 1 for key, hits in keys)


@pytest.mark.django_db
def test_password_reset_requests_are_limited(settings):
    settings.RATE_LIMIT_PASSWORD_RESET = "2/15m"
    UserFactory(username="ada@example.com", email="ada@example.com")
    client = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(2):
        assert client.post("/account/password/reset/", {"email": "ada@example.com"}).status_code == 302
    refused = client.post("/account/password/reset/", {"email": "ada@example.com"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many password reset requests" in refused.content.decode()
    assert len(mail.outbox) == 2
    # Nobody can flood one inbox from many addresses either.
    assert (
        Client(REMOTE_ADDR="198.51.100.2")
        .post("/account/password/reset/", {"email": "ada@example.com"})
        .status_code
        == 429
    )
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_sign_ups_are_limited_per_address(settings):
    settings.RATE_LIMIT_SIGNUP = "2/h"
    client = Client(REMOTE_ADDR="198.51.100.1")

    def sign_up(number: int):
        return client.post(
            "/account/signup/",
            {
                "first_name": "Ada",
                "email": f"ada{number}@example.com",
                "password1": "a long enough passphrase 42",
                "password2": "a long enough passphrase 42",
            },
        )

    for number in range(2):
        assert sign_up(number).status_code == 302
        client.post("/account/logout/")
    refused = sign_up(3)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many sign-up attempts" in refused.content.decode()
    assert get_user_model().objects.count() == 2
    # Another address is not held back by this one's attempts.
    assert Client(REMOTE_ADDR="198.51.100.2").post("/account/signup/", {"email": "x"}).status_code == 200


@pytest.mark.django_db
def test_behind_our_load_balancer_each_shopper_has_their_own_limit(settings):
    settings.RATE_LIMIT_LOGIN = "2/5m"
    settings.NUM_PROXIES = 1
    balancer = "10.0.0.2"

    def attempt(shopper: str, forged: str = "") -> int:
        chain = f"{forged}, {shopper}" if forged else shopper
        client = Client(REMOTE_ADDR=balancer, HTTP_X_FORWARDED_FOR=chain)
        return login(client, f"{shopper}@example.com").status_code

    assert [attempt("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert attempt("203.0.113.2") == 200  # another shopper behind the same balancer
    # Forging X-Forwarded-For does not make a fresh client.
    assert attempt("203.0.113.1", forged="192.0.2.99") == 429


def test_placing_orders_is_limited_per_client(outside, shipping, client, jumper, settings):
    settings.RATE_LIMIT_PLACE_ORDER = "2/10m"
    for _ in range(2):
        assert place(client, fill_cart(client, (jumper, 1))).status_code == 302
    version = fill_cart(client, (jumper, 1))
    refused = place(client, version)
    body = refused.content.decode()
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    assert "Too many orders placed from your connection" in body and "Please wait 10 minutes" in body
    assert "<h1>Checkout</h1>" in body and 'value="ann@example.com"' in body  # the form, filled in
    assert Order.objects.count() == 2 and Payment.objects.count() == 2
    # Other clients still buy.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert place(other, fill_cart(other, (jumper, 1))).status_code == 302


def test_rate_limits_can_be_turned_off(outside, shipping, client, jumper, settings):
    settings.RATE_LIMIT_PLACE_ORDER = "off"
    for _ in range(3):
        assert place(client, fill_cart(client, (jumper, 1))).status_code == 302
    assert not RateLimitCounter.objects.exists()


@pytest.fixture
def two_replicas(transactional_db):
    """Two copies of the shop, as behind a load balancer, each its own process, sharing the database."""
    settings_dict = connection.settings_dict
    database_url = f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    env = {"RATE_LIMIT_LOGIN": "5/5m", "LOG_LEVEL": "WARNING"}
    first = ShopProcess(database_url=database_url, env=env)
    try:
        second = ShopProcess(database_url=database_url, env=env)
    except Exception:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.slow
def test_the_limit_holds_across_replicas(two_replicas):
    """Attempts spread over two server processes count against one limit (the counter lives in PostgreSQL)."""
    first, second = two_replicas
    with httpx.Client(timeout=10) as browser:
        page = browser.get(f"{first.url}/account/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        statuses = []
        for attempt in range(7):
            server = (first, second)[attempt % 2]
            response = browser.post(
                f"{server.url}/account/login/",
                data={"username": "ada@example.com", "password": "wrong", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{server.url}/account/login/"},
            )
            statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429, 429]
    assert RateLimitCounter.objects.count() == 2


# 7. Content-Security-Policy on the pages -----------------------------------------------


@pytest.mark.django_db
def test_pages_carry_the_content_security_policy(client, settings):
    response = client.get("/account/login/")
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert (
        "https://js.stripe.com" in policy["script-src"] and "https://api.stripe.com" in policy["connect-src"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response.cookies["csrftoken"]["httponly"] is True
