"""The demo catalogue command."""

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Count, Value
from django.db.models.functions import Concat

from catalog.models import Category, Product, ProductImage, Variant
from inventory.models import Stock

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int, int]:
    return (
        Category.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        Stock.objects.count(),
        ProductImage.objects.count(),
    )


def test_seed_demo_builds_a_believable_shop_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    first = counts()

    categories, products, variants, stock, images = first
    assert categories >= 8
    assert Category.objects.filter(parent__isnull=True).count() >= 3
    assert Category.objects.filter(parent__isnull=False).count() >= 5
    assert products >= 200
    assert variants > products and stock == variants
    assert images >= products
    assert default_storage.exists(ProductImage.objects.first().image.name)
    # Every leaf category has products, and several products have sizes and colours.
    assert not Category.objects.filter(children__isnull=True).annotate(n=Count("products")).filter(n=0)
    assert Variant.objects.filter(options__has_keys=["size", "colour"]).exists()
    # Some stock is out, most is in.
    assert Stock.objects.filter(on_hand=0).exists()
    assert Stock.objects.filter(on_hand__gt=0).count() > variants // 2
    # Every product's price_from is its cheapest variant.
    for product in Product.objects.prefetch_related("variants")[:50]:
        assert product.price_from == min(v.price for v in product.variants.all())
    assert "240 products (240 new" in out.getvalue()

    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    assert counts() == first
    assert "(0 new, 0 new variants)" in out.getvalue()


def test_seed_demo_scales_and_adds_only_the_missing_products():
    call_command("seed_demo", products=30, stdout=StringIO(), stderr=StringIO())
    assert Product.objects.count() == 30
    slugs_before = set(Product.objects.values_list("slug", flat=True))

    call_command("seed_demo", products=45, stdout=StringIO(), stderr=StringIO())

    assert Product.objects.count() == 45
    assert slugs_before < set(Product.objects.values_list("slug", flat=True))
    assert Variant.objects.values("sku").distinct().count() == Variant.objects.count()


def test_seed_demo_keeps_an_older_seeding_whose_products_differ():
    call_command("seed_demo", products=30, stdout=StringIO(), stderr=StringIO())
    # An older version of the demo data named product 12 otherwise (and gave it other colours).
    old = Variant.objects.filter(sku__startswith="NW000012-").first().product
    Product.objects.filter(pk=old.pk).update(title="Older Demo Lamp", slug="older-demo-lamp")
    Variant.objects.filter(product=old).update(sku=Concat(Value("NW000012-OLD"), "id"))

    call_command("seed_demo", products=35, stdout=StringIO(), stderr=StringIO())

    assert Product.objects.count() == 35
    assert Product.objects.filter(slug="older-demo-lamp").exists()
    assert not Variant.objects.filter(sku__startswith="NW000012-").exclude(product=old).exists()


def test_seed_demo_refuses_absurd_counts():
    with pytest.raises(SystemExit):
        call_command("seed_demo", products=-1, stdout=StringIO(), stderr=StringIO())
    assert Product.objects.count() == 0


def test_seeded_shop_pages_render(client):
    call_command("seed_demo", products=40, stdout=StringIO(), stderr=StringIO())
    product = Product.objects.order_by("id").first()

    assert client.get("/").status_code == 200
    assert client.get("/category/clothing/").status_code == 200
    assert client.get("/category/knitwear/?colour=Navy&sort=price_desc").status_code == 200
    assert client.get(f"/products/{product.slug}/").status_code == 200
    assert client.get("/search/?q=jacket").status_code == 200
