"""Bulk edits from the product list: publish or unpublish, move to a category, change prices by a
percentage, set stock; each all or nothing, each in every product's history with who."""

import pytest

from accounts.roles import CATALOGUE, ORDERS
from catalog.models import Product, ProductEvent, Variant
from inventory.models import Stock
from tests.factories import CategoryFactory, ProductFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    client.force_login(UserFactory(is_staff=True, email="cat@example.com", roles=[CATALOGUE]))
    return client


@pytest.fixture
def two():
    category = CategoryFactory(name="Kitchen")
    made = []
    for title, prices in [("Pan", [1999, 2499]), ("Pot", [3000])]:
        product = ProductFactory(title=title, slug=title.lower(), category=category, is_active=False)
        for index, price in enumerate(prices):
            StockFactory(
                variant=VariantFactory(product=product, sku=f"{title.upper()}-{index}", price=price),
                on_hand=4,
            )
        made.append(product)
    return made


def bulk(client, products, **data):
    return client.post(
        "/dashboard/products/bulk/", {"products": [p.pk for p in products], **data}, follow=True
    )


def test_publish_move_and_price_changes_reach_every_product_ticked_and_are_recorded(editor, two):
    assert "2 products changed." in bulk(editor, two, action="publish").content.decode()
    assert set(Product.objects.values_list("is_active", flat=True)) == {True}
    garden = CategoryFactory(name="Garden")
    bulk(editor, two, action="category", category=garden.pk)
    assert set(Product.objects.values_list("category__name", flat=True)) == {"Garden"}
    # 10 % up, rounded half up to the penny: 1999 → 2198.9 → 2199; 2499 → 2748.9 → 2749; 3000 → 3300.
    bulk(editor, two, action="prices", percent="10")
    assert list(Variant.objects.order_by("sku").values_list("sku", "price")) == [
        ("PAN-0", 2199), ("PAN-1", 2749), ("POT-0", 3300)
    ]  # fmt: skip
    assert Product.objects.get(slug="pan").price_from == 2199
    pan_history = list(ProductEvent.objects.filter(product=two[0]).values_list("message", "actor__email"))
    assert pan_history[0] == (
        "Prices changed (bulk edit): PAN-0 from £19.99 to £21.99; PAN-1 from £24.99 to £27.49.",
        "cat@example.com",
    )
    assert ("Moved to another category (bulk edit): to Garden.", "cat@example.com") in pan_history


def test_stock_is_set_through_the_audited_adjustment_or_not_at_all(editor, two):
    bulk(editor, two, action="stock", stock="9")
    assert set(Stock.objects.values_list("on_hand", flat=True)) == {9}
    Stock.objects.filter(variant__sku="POT-0").update(allocated=5)
    refused = bulk(editor, two, action="stock", stock="2").content.decode()
    assert "Not done: POT-0: 5 units are held by orders awaiting payment" in refused
    assert set(Stock.objects.values_list("on_hand", flat=True)) == {9}  # not even the pan's


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "prices", "percent": "-95"}, "Prices can come down by at most 90 %."),
        ({"action": "prices", "percent": "ten"}, "Give the change as a percentage, e.g. 10 or -15."),
        ({"action": "prices"}, "Give the percentage."),
        ({"action": "category"}, "Choose the category."),
        ({"action": "stock", "stock": "-1"}, "Stock cannot be negative."),
        ({"action": "explode"}, "Choose what to do from the list."),
    ],
)
def test_bad_bulk_edits_say_why_and_change_nothing(editor, two, data, message):
    before = (
        list(Variant.objects.order_by("pk").values_list("price", flat=True)),
        ProductEvent.objects.count(),
    )
    assert message in bulk(editor, two, **data).content.decode()
    assert (
        list(Variant.objects.order_by("pk").values_list("price", flat=True)),
        ProductEvent.objects.count(),
    ) == before


def test_a_price_change_that_would_pass_a_compare_at_price_changes_nothing(editor, two):
    Variant.objects.filter(sku="PAN-1").update(compare_at_price=2600)
    refused = bulk(editor, two, action="prices", percent="10").content.decode()
    assert "Not done: PAN-1 would cost nothing or no less than its compare-at price." in refused
    assert Variant.objects.get(sku="PAN-0").price == 1999


def test_nothing_ticked_or_the_wrong_role(editor, two, client):
    assert (
        "Tick the products to change first."
        in editor.post("/dashboard/products/bulk/", {"action": "publish"}, follow=True).content.decode()
    )
    client.force_login(UserFactory(is_staff=True, roles=[ORDERS]))
    assert (
        client.post("/dashboard/products/bulk/", {"products": [two[0].pk], "action": "publish"}).status_code
        == 403
    )
    assert not Product.objects.filter(is_active=True).exists()
