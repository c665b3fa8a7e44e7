"""The product page's variant picker: one control per axis, the choice in the URL, the price,
stock and picture following it, sold-out values struck through but choosable, and a plain form
that works without scripts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import OptionValue, ProductImage
from catalog.services import product_options_sync
from checkout.models import CartLine
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory

pytestmark = pytest.mark.django_db

# (size, colour, price, on hand): M / Rust is not made; S / Navy is sold out.
MADE = [
    ("S", "Navy", 6500, 0),
    ("M", "Navy", 6500, 4),
    ("L", "Navy", 6900, 9),
    ("S", "Rust", 6500, 7),
    ("L", "Rust", 6900, 1),
]


@pytest.fixture
def jumper():
    product = ProductFactory(
        title="Brora Jumper", slug="brora-jumper", category=CategoryFactory(), price_from=6500
    )
    variants = {}
    for position, (size, colour, price, on_hand) in enumerate(MADE):
        variant = VariantFactory(
            product=product, sku=f"J-{size}-{colour}", options={"size": size, "colour": colour}, price=price,
            position=position,
        )  # fmt: skip
        StockFactory(variant=variant, on_hand=on_hand)
        variants[size, colour] = variant
    product_options_sync(product_id=product.pk)
    OptionValue.objects.filter(value="Navy").update(swatch="#1f2d5a")
    for colour in ("Rust", "Navy"):
        ProductImage.objects.create(
            product=product, image=f"products/jumper-{colour.lower()}.png", alt_text=f"Jumper in {colour}",
            colour=OptionValue.objects.get(value=colour),
        )  # fmt: skip
    return product, variants


def body_of(client, query: str = "") -> str:
    response = client.get(f"/products/brora-jumper/{query}")
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def radios(body: str, axis: str) -> list[tuple[str, bool, bool]]:
    """Return (value, checked, struck through as sold out) for each radio of the axis, in order."""
    found = re.findall(
        rf'<label class="picker-value( sold-out)?"> <input type="radio" name="{axis}" value="[^"]*" '
        rf'data-value="([^"]+)"( checked)?>',
        body,
    )
    return [(value, bool(checked), bool(sold_out)) for sold_out, value, checked in found]


def test_one_control_per_axis_in_the_types_order_with_the_first_choice_in_stock(client, jumper):
    body = body_of(client)
    # Nothing chosen: the first variant in stock, M / Navy (S / Navy is sold out).
    assert radios(body, "size") == [("S", False, True), ("M", True, False), ("L", False, False)]
    assert radios(body, "colour") == [("Navy", True, False), ("Rust", False, True)]  # no M in Rust
    assert '<legend>Size: <span data-picker-chosen="size">M</span></legend>' in body
    assert 'fill="#1f2d5a"' in body  # Navy's swatch; the colour's name is written beside it
    assert "Only 4 left" in body
    assert f'name="variant" value="{jumper[1]["M", "Navy"].pk}"' in body


def test_the_url_chooses_in_any_case_and_the_price_stock_and_picture_follow(client, jumper):
    body = body_of(client, "?colour=RUST&size=l")
    assert radios(body, "size") == [("S", False, False), ("M", False, True), ("L", True, False)]
    assert 'data-picker-from="from £65.00">£69.00' in body
    assert "Only 1 left" in body
    assert f'name="variant" value="{jumper[1]["L", "Rust"].pk}"' in body
    first_image = re.search(r'<img src="[^"]*" alt="([^"]+)"', body).group(1)
    assert first_image == "Jumper in Rust"
    assert body_of(client, "?colour=navy").index("Jumper in Navy") < body_of(client, "?colour=navy").index(
        "Jumper in Rust"
    )


def test_a_sold_out_choice_can_be_chosen_but_not_added(client, jumper):
    body = body_of(client, "?size=s&colour=navy")
    assert ("S", True, True) in radios(body, "size")
    assert "Sold out in this choice" in body
    assert re.search(r"<button type=\"submit\" data-picker-add disabled>Add to cart</button>", body)


def test_a_combination_not_made_says_so_and_adds_nothing(client, jumper):
    body = body_of(client, "?size=m&colour=rust")
    assert "Not made in this combination: choose another." in body
    assert 'name="variant" value=""' in body and "data-picker-add disabled" in body


@pytest.mark.parametrize("query", ["?size=XXL", "?colour=%3Cscript%3E", "?size=" + "m" * 500, "?variant=abc"])
def test_odd_choices_fall_back_to_a_choice_in_stock(client, jumper, query):
    assert "Only 4 left" in body_of(client, query)  # M / Navy


def test_each_choice_links_to_its_own_url_and_the_plain_form_keeps_the_other_axes(client, jumper):
    body = body_of(client, "?size=l&colour=navy")
    assert '<form class="picker" method="get" action="/products/brora-jumper/" data-variant-picker>' in body
    assert (
        '<noscript><button type="submit" class="button-secondary">Show this choice</button></noscript>'
        in body
    )
    assert 'value="rust" data-value="Rust"' in body  # sent as a slug, read back in any case
    assert '<script id="picker-variants" type="application/json">' in body


def test_the_choice_is_added_to_the_cart_and_a_refusal_comes_back_to_it(client, jumper):
    chosen = jumper[1]["L", "Rust"]
    added = client.post(
        "/cart/add/", {"variant": chosen.pk, "quantity": 1, "next": "/products/brora-jumper/"}
    )
    assert added.status_code == 302 and CartLine.objects.get().variant_id == chosen.pk
    refused = client.post(
        "/cart/add/", {"variant": chosen.pk, "quantity": 5, "next": "/products/brora-jumper/"}
    )
    assert refused.status_code == 302
    back = body_of(client, refused["Location"].removeprefix("/products/brora-jumper/"))
    assert ("L", True, False) in radios(back, "size") and ("Rust", True, False) in radios(back, "colour")


def test_a_product_without_a_type_lists_its_variants_as_before(client):
    product = ProductFactory(slug="plain-mug", category=CategoryFactory())
    StockFactory(variant=VariantFactory(product=product, options={"size": "M"}))
    response = client.get("/products/plain-mug/")
    body = " ".join(response.content.decode().split())
    assert 'class="variant"' in body and "data-variant-picker" not in body


def test_the_picker_reads_no_more_queries_however_many_variants(
    client, jumper, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        body_of(client)
    product = jumper[0]
    for index in range(10):
        StockFactory(
            variant=VariantFactory(product=product, options={"size": f"{40 + index}", "colour": "Navy"})
        )
    product_options_sync(product_id=product.pk)
    with CaptureQueriesContext(connection) as many:
        body_of(client)
    assert len(many) == len(few)
