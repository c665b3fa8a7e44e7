"""The product page keeps the shopper's chosen variant and quantity when adding to the cart is refused."""

import re

import pytest

from checkout.models import CartLine
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt():
    """A shirt in S (out of stock), M (three left) and L (ten)."""
    product = ProductFactory(title="Linen Shirt", slug="linen-shirt", category=CategoryFactory())
    variants = {}
    for position, (size, on_hand) in enumerate([("S", 0), ("M", 3), ("L", 10)]):
        variants[size] = VariantFactory(
            product=product, sku=f"SHIRT-{size}", options={"size": size}, price=3000, position=position
        )
        StockFactory(variant=variants[size], on_hand=on_hand)
    return variants


def checked_variants(body: str) -> list[str]:
    return re.findall(r'<input type="radio" name="variant" value="(\d+)"[^>]* checked>', body)


def quantity_shown(body: str) -> str:
    return re.search(r'<input type="number" name="quantity" value="([^"]*)"', body).group(1)


def test_asking_for_more_than_is_left_keeps_the_variant_and_quantity(client, shirt):
    response = client.post(
        "/cart/add/",
        {"variant": shirt["M"].pk, "quantity": 5, "next": "/products/linen-shirt/"},
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain == [(f"/products/linen-shirt/?variant={shirt['M'].pk}&quantity=5", 302)]
    body = response.content.decode()
    assert "Sorry, only 3 of Linen Shirt (M) left" in body
    assert checked_variants(body) == [str(shirt["M"].pk)]
    assert quantity_shown(body) == "5"
    assert not CartLine.objects.exists()


def test_a_bad_quantity_keeps_the_variant(client, shirt):
    response = client.post(
        "/cart/add/",
        {"variant": shirt["L"].pk, "quantity": "lots", "next": "/products/linen-shirt/"},
        follow=True,
    )

    body = response.content.decode()
    assert response.status_code == 200 and "Enter the quantity as a whole number." in body
    assert checked_variants(body) == [str(shirt["L"].pk)]
    assert quantity_shown(body) == "1"


@pytest.mark.parametrize(
    "query",
    ["variant=abc&quantity=2", "variant=999999&quantity=0", "quantity=99", "variant=%s&quantity=-1"],
)
def test_a_choice_that_is_not_for_sale_here_is_not_selected(client, shirt, query):
    query = query.replace("%s", str(shirt["S"].pk))  # S is out of stock

    response = client.get(f"/products/linen-shirt/?{query}")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Linen Shirt" in body
    assert checked_variants(body) == []
    assert quantity_shown(body) in ("1", "2")


def test_a_variant_of_another_product_is_not_selected(client, shirt):
    other = VariantFactory(product=ProductFactory(slug="other"), sku="OTHER")
    StockFactory(variant=other, on_hand=5)

    body = client.get(f"/products/linen-shirt/?variant={other.pk}").content.decode()

    assert checked_variants(body) == []


def test_a_refusal_from_elsewhere_goes_back_without_a_choice_to_the_cart(client, shirt):
    response = client.post(
        "/cart/add/", {"variant": shirt["M"].pk, "quantity": 5, "next": "https://evil.example/"}
    )

    assert response.status_code == 302 and response["Location"] == "/cart/"
