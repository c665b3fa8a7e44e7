"""Django admin for the catalogue: pages load for staff, edits keep derived data right."""

import pytest

from catalog.models import Product
from inventory.models import Stock
from tests.factories import CategoryFactory, ProductFactory, UserFactory, product_with_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_pages_load_with_money_shown(staff_client):
    product = product_with_stock(title="Jumper", price=6500)
    stock = Stock.objects.get(variant__product=product)

    pages = {
        "/admin/catalog/product/": "£65.00",
        f"/admin/catalog/product/{product.pk}/change/": "Jumper",
        "/admin/catalog/product/?q=Jumper&price=25-100": "£65.00",
        "/admin/catalog/category/": "Category",
        "/admin/inventory/stock/": "SKU-",
        "/admin/inventory/stock/?level=out": "0 stock",
        f"/admin/inventory/stock/{stock.pk}/change/": "On hand",
        "/admin/catalog/variant/": "£65.00",
    }
    for url, text in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


def test_admin_is_staff_only(client):
    client.force_login(UserFactory())
    response = client.get("/admin/catalog/product/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_saving_a_product_with_new_variants_creates_stock_and_updates_price(staff_client):
    category = CategoryFactory()
    product = ProductFactory(category=category, title="Lamp", slug="lamp", price_from=0)
    data = {
        "category": category.pk,
        "title": "Lamp",
        "slug": "lamp",
        "description": "",
        "is_active": "on",
        "currency": "GBP",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-0-sku": "LAMP-BRASS",
        "variants-0-options": '{"finish": "Brass"}',
        "variants-0-price": "4500",
        "variants-0-currency": "GBP",
        "variants-0-is_active": "on",
        "variants-0-position": "0",
        "variants-1-sku": "LAMP-BLACK",
        "variants-1-options": '{"finish": "Black"}',
        "variants-1-price": "3900",
        "variants-1-currency": "GBP",
        "variants-1-is_active": "on",
        "variants-1-position": "1",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
    }

    response = staff_client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    product.refresh_from_db()
    assert product.price_from == 3900
    assert Stock.objects.filter(variant__product=product).count() == 2
    assert set(Stock.objects.filter(variant__product=product).values_list("on_hand", flat=True)) == {0}
    assert Product.objects.count() == 1
