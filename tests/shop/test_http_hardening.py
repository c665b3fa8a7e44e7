"""HTTP rules every route keeps, checked by walking the URLconf: each view answers only
the methods it serves (405 with Allow for the others), and pages with personal data
are never stored by a browser or a proxy."""

import re

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import CategoryFactory, UserFactory, product_with_stock
from tests.urlwalk import routes

ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")
SAMPLES = {
    "order_number": "NW100001",
    "order_token": "t" * 32,
    "int": "1",
    "slug": "x",
    "str": "00000000-0000-0000-0000-000000000001",
    None: "MQ",
}
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
PRIVATE = ("checkout:", "account:", "dashboard:", "admin:", "inventory:")


def shop_routes() -> list[tuple[str, str]]:
    """Return (name, sample URL) for the shop's own routes (Django's admin and media left out)."""
    return [
        (name, "/" + ARGUMENT.sub(lambda match: SAMPLES[match[1]], route))
        for name, route, _pattern in routes()
        if name and "^" not in route and not name.startswith("admin:")
    ]


def staff_client(staff=None) -> Client:
    client = Client(
        raise_request_exception=False,
        headers={"Authorization": f"Bearer {settings.INVENTORY_API_TOKEN}"},
    )
    client.force_login(staff or UserFactory(is_staff=True, is_superuser=True))
    return client


def send(client: Client, method: str, url: str):
    return client.generic(method, url)


@pytest.mark.django_db
def test_every_view_refuses_the_methods_it_does_not_serve_with_405_and_allow():
    staff = UserFactory(is_staff=True, is_superuser=True)
    wrong = []
    checked = 0
    for name, url in shop_routes():
        if name == "inventory:not-found":
            continue
        client = staff_client(staff)  # signed in afresh: the walk posts to sign-out too
        put = send(client, "PUT", url)
        assert put.status_code == 405, f"{name} {url}: PUT answered {put.status_code}"
        allowed = {method.strip() for method in put["Allow"].split(",")}
        if "GET" in allowed and not name.startswith("inventory:"):
            assert "HEAD" in allowed, f"{name}: GET without HEAD"
        for method in ALL_METHODS:
            status = send(client, method, url).status_code
            if (status == 405) == (method in allowed):
                wrong.append(f"{name} {method} {url}: {status} (Allow: {put['Allow']})")
        checked += 1
    assert wrong == []
    assert checked >= 40


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("/", "GET, HEAD"),
        ("/search/", "GET, HEAD"),
        ("/cart/add/", "POST"),
        ("/checkout/", "GET, HEAD, POST"),
        ("/account/login/", "GET, HEAD, POST"),
        ("/account/logout/", "POST"),
        ("/dashboard/orders/NW100001/refund/", "POST"),
        ("/webhooks/stripe/", "POST"),
    ],
)
@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT", "DELETE"])
def test_pages_do_not_render_for_other_methods(client, url, allow, method):
    response = client.generic(method, url)
    assert response.status_code == 405
    assert response["Allow"] == allow
    assert b"<html" not in response.content


@pytest.mark.django_db
def test_served_methods_still_work_and_head_has_no_body(client):
    category = CategoryFactory(slug="knitwear")
    product = product_with_stock(title="Merino Jumper", slug="merino-jumper", category=category)
    for url in ("/", "/search/?q=merino", "/category/knitwear/", product.get_absolute_url(), "/cart/"):
        page, head = client.get(url), client.head(url)
        assert page.status_code == 200, url
        assert head.status_code == 200, url
        assert head.content == b""
    assert "Merino Jumper" in client.get("/search/?q=merino").content.decode()


@pytest.mark.django_db
def test_the_inventory_api_answers_405_in_json():
    client = staff_client()
    response = client.delete("/inventory/v1/levels")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {
        "error": "method_not_allowed",
        "detail": "Use GET on this URL.",
        "message": "Use GET on this URL.",
        "retryable": False,
    }


# Pages with personal data are not stored --------------------------------------------------


def is_private(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.mark.django_db
def test_every_page_with_personal_data_says_no_store_and_the_catalogue_does_not():
    client = staff_client()
    shopper = Client(raise_request_exception=False)
    wrong = []
    for name, url in shop_routes():
        for who, response in (("staff", client.get(url)), ("visitor", shopper.get(url))):
            if is_private(response) != name.startswith(PRIVATE):
                wrong.append(f"{who} {name} {url}: {response.status_code} {response.get('Cache-Control')}")
    assert wrong == []
    for url in ("/admin/", "/admin/checkout/order/", "/admin/login/"):
        assert is_private(client.get(url)), url


@pytest.mark.django_db
def test_the_cart_checkout_and_order_pages_are_not_stored(client):
    product = product_with_stock(title="Merino Jumper", slug="merino-jumper")
    variant = product.variants.get()
    added = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    cart = client.get("/cart/")
    catalogue = client.get(product.get_absolute_url())
    assert added.status_code == 302 and is_private(added)
    assert cart.status_code == 200 and is_private(cart)
    assert "Merino Jumper" in cart.content.decode()
    assert catalogue.status_code == 200 and "Cache-Control" not in catalogue
