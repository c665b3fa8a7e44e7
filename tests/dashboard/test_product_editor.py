"""The dashboard's product editor: a product's fields and its variants as a table, prices typed as
money, stock per variant; every bad input refused with its reason and nothing written; a save over
someone else's refused so that neither is lost; each change in the product's history."""

import pytest

from accounts.roles import CATALOGUE, ORDERS
from catalog.models import Product, ProductEvent, Variant
from catalog.services import product_options_sync
from inventory.models import Stock, StockAdjustment
from tests.factories import CategoryFactory, ProductFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    client.force_login(UserFactory(is_staff=True, email="cat@example.com", roles=[CATALOGUE]))
    return client


@pytest.fixture
def lamp():
    product = ProductFactory(
        title="Desk Lamp", slug="desk-lamp", category=CategoryFactory(name="Lighting"), price_from=2000
    )
    StockFactory(variant=VariantFactory(product=product, sku="LAMP", price=2000), on_hand=4)
    return product


def post_data(product: Product, **changes) -> dict:
    """The editor's form as it is filled in for `product`, with `changes` (field or variant-0 field)."""
    fields = {
        "title": product.title,
        "slug": product.slug,
        "description": product.description,
        "category": product.category_id,
        "product_type": product.product_type_id or "",
        "tax_class": product.tax_class_id or "",
        "seo_title": "",
        "seo_description": "",
        "is_active": "on" if product.is_active else "",
        "seen": Product.objects.get(pk=product.pk).updated_at.isoformat(),
    }
    variants = list(Variant.objects.filter(product=product).order_by("position", "id"))
    fields |= {"variants-TOTAL_FORMS": str(len(variants)), "variants-INITIAL_FORMS": str(len(variants))}
    for index, variant in enumerate(variants):
        fields |= {
            f"variants-{index}-id": variant.pk,
            f"variants-{index}-sku": variant.sku,
            f"variants-{index}-price": f"{variant.price / 100:.2f}",
            f"variants-{index}-compare_at_price": "",
            f"variants-{index}-weight_grams": variant.weight_grams,
            f"variants-{index}-barcode": variant.barcode,
            f"variants-{index}-on_hand": Stock.objects.get(variant=variant).on_hand,
            f"variants-{index}-is_active": "on" if variant.is_active else "",
        }
    return {key: value for key, value in fields.items() if value is not None} | changes


def everything() -> tuple:
    return (
        list(Product.objects.order_by("pk").values_list("title", "slug", "is_active", "price_from")),
        list(Variant.objects.order_by("pk").values_list("sku", "price", "compare_at_price", "is_active")),
        list(Stock.objects.order_by("pk").values_list("on_hand")),
        ProductEvent.objects.count(),
    )


def test_a_new_product_is_made_hidden_until_published_and_recorded(editor):
    category = CategoryFactory(name="Kitchen")
    response = editor.post(
        "/dashboard/products/add/", {"title": "Enamel Mug", "category": category.pk, "description": "Tough."}
    )
    product = Product.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dashboard/products/{product.pk}/"
    assert (product.slug, product.is_active) == ("enamel-mug", False)
    assert list(product.events.values_list("message", "actor__email")) == [("Created.", "cat@example.com")]


def test_prices_as_people_type_them_stock_and_what_changed_are_saved(editor, lamp):
    data = post_data(
        lamp,
        **{
            "variants-0-price": "£24.99",
            "variants-0-compare_at_price": "1,030.00",
            "variants-0-on_hand": "7",
        },
        is_active="on",
    )
    response = editor.post(f"/dashboard/products/{lamp.pk}/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    variant = Variant.objects.get(sku="LAMP")
    assert (variant.price, variant.compare_at_price) == (2499, 103000)
    assert Stock.objects.get(variant=variant).on_hand == 7
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.on_hand_before, adjustment.on_hand_after, adjustment.reason) == (
        4,
        7,
        "Set in the product editor",
    )
    lamp.refresh_from_db()
    assert lamp.price_from == 2499
    assert lamp.events.first().message == (
        "Saved: LAMP price from £20.00 to £24.99; LAMP compare at price from none to £1,030.00; "
        "LAMP on hand from 4 to 7."
    )
    assert "£24.99" in editor.get("/dashboard/products/").content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants-0-price": "abc"}, "Enter an amount as a number, e.g. 4.95."),
        ({"variants-0-price": "-1"}, "A price cannot be negative."),
        ({"variants-0-price": "20.001"}, "Use at most 2 decimal places."),
        (
            {"variants-0-compare_at_price": "19.00"},
            "A compare-at price must be above the price (blank for none).",
        ),
        ({"variants-0-on_hand": "-3"}, "Stock cannot be negative."),
        ({"variants-0-sku": ""}, "Give each variant its SKU."),
        ({"variants-0-sku": "MUG"}, "Another product&#x27;s variant has the SKU MUG."),
        ({"slug": "enamel-mug"}, "Another product has that web address: change it."),
        ({"title": ""}, "Give the product a title shoppers will read."),
        ({"category": "99999"}, "Choose a category from the list."),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_written(editor, lamp, changes, message):
    mug = ProductFactory(slug="enamel-mug")
    VariantFactory(product=mug, sku="MUG")
    before = everything()
    response = editor.post(f"/dashboard/products/{lamp.pk}/", post_data(lamp, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert everything() == before


def test_stock_below_what_orders_hold_is_refused_and_nothing_is_written(editor, lamp):
    Stock.objects.filter(variant__sku="LAMP").update(allocated=3)
    before = everything()
    response = editor.post(
        f"/dashboard/products/{lamp.pk}/", post_data(lamp, **{"variants-0-on_hand": "2", "title": "Lamp"})
    )
    assert response.status_code == 400
    assert (
        "LAMP: 3 units are held by orders awaiting payment; on hand cannot go below that."
        in response.content.decode()
    )
    assert everything() == before


def test_a_save_over_someone_elses_is_refused_and_neither_is_lost(editor, lamp, client):
    mine = post_data(lamp, title="My title")
    other = UserFactory(is_staff=True, roles=[CATALOGUE])
    editor.force_login(other)
    assert (
        editor.post(f"/dashboard/products/{lamp.pk}/", post_data(lamp, title="Their title")).status_code
        == 302
    )
    editor.force_login(UserFactory(is_staff=True, roles=[CATALOGUE]))

    response = editor.post(f"/dashboard/products/{lamp.pk}/", mine)

    assert response.status_code == 400
    body = response.content.decode()
    assert "Someone else saved this product after you opened it." in body
    assert 'value="My title"' in body  # what this person typed, to save again
    assert Product.objects.get(pk=lamp.pk).title == "Their title"


def test_the_variants_a_type_allows_are_made_not_yet_sold(editor):
    product = ProductFactory(title="Tee", slug="tee", category=CategoryFactory())
    for size, colour in [("S", "Navy"), ("M", "Rust")]:
        StockFactory(variant=VariantFactory(product=product, options={"size": size, "colour": colour}))
    product_options_sync(product_id=product.pk)

    response = editor.post(f"/dashboard/products/{product.pk}/variants/generate/", follow=True)

    assert "2 variants made, not yet sold: switch on those you sell." in response.content.decode()
    made = Variant.objects.filter(product=product, is_active=False)
    assert sorted((v.options["size"], v.options["colour"], v.sku) for v in made) == [
        ("M", "Navy", "TEE-M-NAVY"),
        ("S", "Rust", "TEE-S-RUST"),
    ]
    assert Stock.objects.filter(variant__in=made, on_hand=0).count() == 2
    again = editor.post(f"/dashboard/products/{product.pk}/variants/generate/", follow=True)
    assert "Every combination already has a variant." in again.content.decode()


def test_only_catalogue_editors_may_open_the_editor(client, lamp):
    client.force_login(UserFactory(is_staff=True, roles=[ORDERS]))
    before = everything()
    assert client.get("/dashboard/products/").status_code == 403
    assert client.post(f"/dashboard/products/{lamp.pk}/", post_data(lamp, title="No")).status_code == 403
    assert client.post(f"/dashboard/products/{lamp.pk}/variants/generate/").status_code == 403
    assert everything() == before
