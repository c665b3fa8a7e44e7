"""Listings follow the shopper's filters: a colour filter shows each card's picture in that colour,
and each facet's counts are those the other filters leave."""

import re

import pytest

from catalog.models import OptionValue, ProductImage
from catalog.services import product_options_sync
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def knitwear():
    """Three jumpers: A in Navy (S, M) and Cream (M), B in Navy (L), C in Cream (S), out of stock."""
    category = CategoryFactory(name="Knitwear", slug="knitwear")
    made = {
        "A": [("S", "Navy", 5), ("M", "Navy", 5), ("M", "Cream", 5)],
        "B": [("L", "Navy", 5)],
        "C": [("S", "Cream", 0)],
    }
    for title, variants in made.items():
        product = ProductFactory(
            title=f"Jumper {title}", slug=f"jumper-{title.lower()}", category=category, price_from=5000
        )
        for size, colour, on_hand in variants:
            variant = VariantFactory(product=product, options={"size": size, "colour": colour}, price=5000)
            StockFactory(variant=variant, on_hand=on_hand)
        product_options_sync(product_id=product.pk)
        product.refresh_from_db()
        for colour in dict.fromkeys(colour for _size, colour, _ in variants):
            ProductImage.objects.create(
                product=product,
                image=f"products/{title.lower()}-{colour.lower()}.png",
                position=0 if colour == "Navy" else 1,
                colour=OptionValue.objects.get(axis__product_type=product.product_type, value=colour),
            )
    return category


def facet_counts(body: str, name: str) -> dict[str, int]:
    return {
        value: int(count)
        for value, count in re.findall(
            rf'<input type="checkbox" name="{name}" value="([^"]+)"[^>]*> [^<]+ '
            r'<span class="muted">\((\d+)\)</span>',
            body,
        )
    }


def card_images(body: str) -> dict[str, str]:
    return dict(
        (title, image)
        for image, title in re.findall(
            r'<img src="/media/products/([^"]+)"[^>]*>.*?<span class="card-title">([^<]+)</span>', body, re.S
        )
    )


def page(client, query: str) -> str:
    response = client.get(f"/category/knitwear/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_a_colour_filter_shows_each_card_in_that_colour(client, knitwear):
    assert card_images(page(client, ""))["Jumper A"] == "a-navy.png"  # its first picture
    assert card_images(page(client, "?colour=Cream"))["Jumper A"] == "a-cream.png"
    assert card_images(page(client, "?colour=Cream"))["Jumper C"] == "c-cream.png"


def test_facet_counts_follow_the_other_filters_but_not_their_own(client, knitwear):
    everything = page(client, "")
    assert facet_counts(everything, "size") == {"S": 2, "M": 1, "L": 1}
    assert facet_counts(everything, "colour") == {"Cream": 2, "Navy": 2}

    cream = page(client, "?colour=Cream")
    # Sizes within Cream: A has M in Cream, C has S in Cream; B has no Cream.
    assert facet_counts(cream, "size") == {"S": 1, "M": 1, "L": 0}
    # Its own axis still counts every colour, so choosing Navy as well shows what it adds.
    assert facet_counts(cream, "colour") == {"Cream": 2, "Navy": 2}

    in_stock = page(client, "?in_stock=1")
    assert facet_counts(in_stock, "colour") == {"Cream": 1, "Navy": 2}  # C is out of stock
    both = page(client, "?in_stock=1&size=S")
    assert facet_counts(both, "colour") == {"Cream": 0, "Navy": 1}  # the S in Cream is sold out


def test_on_a_phone_the_filters_sit_behind_a_button_with_the_count(client, knitwear):
    body = " ".join(page(client, "?colour=Navy").split())
    assert '<details class="filter-drawer" open data-filter-drawer>' in body
    assert (
        '<summary class="filter-toggle button-secondary">Filter '
        '<span class="muted">· 2 products</span></summary>' in body
    )
