"""The cart: add, change, remove, limits, bad input, header count, merge at sign-in."""

import pytest
from django.test import Client

from checkout.models import Cart, CartLine
from tests.factories import ProductFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db


def lines(client) -> dict[str, int]:
    cart_id = client.session.get("cart_id")
    return {line.variant.sku: line.quantity for line in CartLine.objects.filter(cart_id=cart_id)}


def test_add_change_and_remove(client, jumper):
    response = client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Added to your cart (you now have 2)." in body
    assert "Merino Jumper" in body and "£130.00" in body
    assert lines(client) == {"JUMP-M": 2}
    assert client.cookies["cart_count"].value == "2"

    client.post("/cart/update/", {"variant": jumper.pk, "quantity": 1})
    assert lines(client) == {"JUMP-M": 1}
    assert client.cookies["cart_count"].value == "1"

    response = client.post("/cart/update/", {"variant": jumper.pk, "remove": "1"}, follow=True)
    assert "Removed from your cart." in response.content.decode()
    assert lines(client) == {}


def test_header_shows_the_item_count(client, jumper):
    client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2})
    body = client.get("/").content.decode()
    assert '<span class="badge" aria-label="2 items">2</span>' in body


def test_more_than_available_is_refused_naming_what_is_left(client, jumper):
    client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2})

    response = client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2}, follow=True)

    assert (
        "Sorry, only 3 of Merino Jumper (M) left and you already have 2 in your cart."
        in response.content.decode()
    )
    assert lines(client) == {"JUMP-M": 2}
    response = client.post("/cart/update/", {"variant": jumper.pk, "quantity": 5}, follow=True)
    assert "Sorry, only 3 of Merino Jumper (M) left." in response.content.decode()
    assert lines(client) == {"JUMP-M": 2}


def test_stock_held_by_reservations_is_not_available(client, jumper):
    jumper.stock.allocated = 3
    jumper.stock.save()
    response = client.post("/cart/add/", {"variant": jumper.pk, "quantity": 1}, follow=True)
    assert "Sorry, Merino Jumper (M) is out of stock." in response.content.decode()
    assert lines(client) == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quantity": "0"}, "Choose at least 1."),
        ({"quantity": "-1"}, "Choose at least 1."),
        ({"quantity": "abc"}, "Enter the quantity as a whole number."),
        ({"quantity": "1.5"}, "Enter the quantity as a whole number."),
        ({"quantity": "999999999999999999999"}, "You can buy at most 20 of one item."),
        ({"quantity": "21"}, "You can buy at most 20 of one item."),
        ({"quantity": ""}, "This field is required."),
    ],
)
def test_bad_quantities_are_refused(client, jumper, data, message):
    response = client.post("/cart/add/", {"variant": jumper.pk, **data}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CartLine.objects.exists()


def test_unknown_and_withdrawn_variants_are_refused(client, jumper):
    retired = VariantFactory(product=jumper.product, sku="JUMP-L", is_active=False)
    StockFactory(variant=retired)
    hidden_product = ProductFactory(is_active=False)
    hidden = VariantFactory(product=hidden_product)
    StockFactory(variant=hidden)

    for variant_id in [retired.pk, hidden.pk, 999999, "abc", ""]:
        response = client.post("/cart/add/", {"variant": variant_id, "quantity": 1}, follow=True)
        assert response.status_code == 200
        body = response.content.decode()
        assert "no longer sold" in body or "Choose an option." in body or "Enter a whole number." in body
    assert not CartLine.objects.exists()


def test_add_redirects_back_only_to_our_own_pages(client, jumper):
    response = client.post("/cart/add/", {"variant": 0, "quantity": 1, "next": "/products/merino-jumper/"})
    assert response["Location"] == "/products/merino-jumper/"
    response = client.post("/cart/add/", {"variant": 0, "quantity": 1, "next": "https://evil.example/"})
    assert response["Location"] == "/cart/"


def test_cart_needs_csrf(jumper):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/cart/add/", {"variant": jumper.pk, "quantity": 1})
    assert response.status_code == 403
    assert not CartLine.objects.exists()


def test_cart_pages_only_take_the_right_methods(client, jumper):
    assert client.get("/cart/add/").status_code == 405
    assert client.get("/cart/update/").status_code == 405
    assert client.post("/cart/").status_code == 405


def test_updating_a_line_that_is_not_there(client, jumper):
    response = client.post("/cart/update/", {"variant": jumper.pk, "quantity": 1}, follow=True)
    assert "Your cart has expired" in response.content.decode()


def test_signed_in_cart_follows_the_user(client, jumper):
    user = UserFactory()
    client.force_login(user)
    client.post("/cart/add/", {"variant": jumper.pk, "quantity": 1})
    other_device = Client()
    other_device.force_login(user)
    body = other_device.get("/cart/").content.decode()
    assert "Merino Jumper" in body
    assert Cart.objects.get(user=user).lines.count() == 1


def test_guest_cart_merges_into_the_account_cart_at_sign_in(client, jumper):
    user = UserFactory(username="ann@example.com", email="ann@example.com")
    tee = VariantFactory(product=ProductFactory(title="Tee"), sku="TEE", price=1500)
    StockFactory(variant=tee, on_hand=10)
    account_cart = Cart.objects.create(user=user)
    CartLine.objects.create(cart=account_cart, variant=jumper, quantity=1)

    client.post("/cart/add/", {"variant": jumper.pk, "quantity": 2})
    client.post("/cart/add/", {"variant": tee.pk, "quantity": 1})
    guest_cart_id = client.session["cart_id"]
    response = client.post(
        "/account/login/", {"username": "ann@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 302

    assert not Cart.objects.filter(pk=guest_cart_id).exists()
    merged = {line.variant.sku: line.quantity for line in CartLine.objects.filter(cart__user=user)}
    assert merged == {"JUMP-M": 3, "TEE": 1}
    assert client.session["cart_id"] == account_cart.pk
