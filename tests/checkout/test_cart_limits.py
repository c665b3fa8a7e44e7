"""A cart holds no more lines than one stock reservation can take, so every cart that can
be filled can be checked out; a cart the inventory refuses for good says so, once."""

import pytest
from django.test import Client

from checkout.cart_limits import cart_max_lines
from checkout.models import Cart, CartLine, Order
from checkout.services.carts import MAX_LINE_QUANTITY
from inventory import api
from inventory import services as inventory
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory
from tests.helpers import prices_seen

ADDRESS = {
    "email": "ann@example.com",
    "full_name": "Ann Walker",
    "line1": "1 High Street",
    "city": "Kendal",
    "postcode": "LA9 4DT",
    "country": "GB",
    "shipping_method": "standard",
}


def variants(count: int) -> list:
    category = CategoryFactory()
    made = []
    for n in range(count):
        product = ProductFactory(title=f"Sock {n}", slug=f"sock-{n}", category=category, price_from=500)
        variant = VariantFactory(product=product, sku=f"SOCK-{n}", price=500)
        StockFactory(variant=variant, on_hand=5)
        made.append(variant)
    return made


def add(client: Client, variant, quantity: int = 1):
    return client.post("/cart/add/", {"variant": variant.pk, "quantity": quantity}, follow=True)


def test_the_cart_limit_is_the_inventory_apis_and_a_setting_can_only_lower_it(settings):
    assert cart_max_lines() == inventory.RESERVATION_MAX_LINES == api.MAX_LINES == 100
    settings.CART_MAX_LINES = 5
    assert cart_max_lines() == 5
    settings.CART_MAX_LINES = 500
    assert cart_max_lines() == 100
    assert MAX_LINE_QUANTITY <= inventory.RESERVATION_MAX_QUANTITY == api.MAX_QUANTITY


@pytest.mark.django_db
def test_a_full_cart_refuses_another_item_and_says_why(client, settings):
    settings.CART_MAX_LINES = 3
    first, second, third, fourth = variants(4)
    for variant in (first, second, third):
        assert add(client, variant).status_code == 200
    cart = Cart.objects.get()
    version = cart.version

    response = add(client, fourth)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/cart/"
    body = response.content.decode()
    assert "Your cart is full: it can hold up to 3 different items." in body
    assert "Please check out what you have, or remove something first." in body
    assert sorted(CartLine.objects.values_list("variant__sku", "quantity")) == [
        ("SOCK-0", 1),
        ("SOCK-1", 1),
        ("SOCK-2", 1),
    ]
    cart.refresh_from_db()
    assert cart.version == version
    # More of an item already in the cart is no new line: still allowed.
    assert "you now have 2" in add(client, first).content.decode()


def test_a_cart_the_inventory_refuses_for_good_says_so_and_does_not_ask_to_retry(outside, shipping, client):
    """A cart filled past the limit before there was one: the inventory API answers 400."""
    made = variants(inventory.RESERVATION_MAX_LINES + 1)
    add(client, made[0])
    cart = Cart.objects.get()
    CartLine.objects.bulk_create(CartLine(cart=cart, variant=variant, quantity=1) for variant in made[1:])
    Cart.objects.filter(pk=cart.pk).update(version=cart.version + 1)

    seen = prices_seen(cart).sign()
    response = client.post(
        "/checkout/", {**ADDRESS, "cart_version": cart.version + 1, "quote": seen}, follow=True
    )

    body = response.content.decode()
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Our stock system could not take this order as it stands, so nothing was charged." in body
    assert "Please change your cart (fewer different items, say) or contact us." in body
    assert "try again in a minute" not in body
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELED
    assert CartLine.objects.filter(cart=cart).count() == 101
    assert list(StockFactory._meta.model.objects.filter(allocated__gt=0)) == []


@pytest.mark.django_db
def test_merging_a_guest_cart_at_sign_in_stays_within_the_limit(client, settings, django_user_model):
    settings.CART_MAX_LINES = 3
    made = variants(5)
    user = django_user_model.objects.create_user(
        username="ann@example.com", email="ann@example.com", password="correct horse battery"
    )
    account = Client()
    account.force_login(user)
    for variant in made[:2]:
        add(account, variant)
    for variant in (made[0], *made[2:]):
        add(client, variant)

    signed_in = client.post(
        "/account/login/", {"username": "ann@example.com", "password": "correct horse battery"}
    )

    assert signed_in.status_code == 302
    cart = Cart.objects.get(user=user)
    # The account's two lines, one more from the guest cart (its first new one), and the
    # shared item's quantities added up.
    assert sorted(CartLine.objects.filter(cart=cart).values_list("variant__sku", "quantity")) == [
        ("SOCK-0", 2),
        ("SOCK-1", 1),
        ("SOCK-2", 1),
    ]
