"""Every delivery promise on the site comes from the delivery zones, never from a template."""

import pytest

from tests.factories import ShippingMethodFactory, product_with_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def uk_delivery():
    """Standard UK delivery £3.95, free from £50; express £8.95, never free."""
    standard = ShippingMethodFactory(code="standard", name="Standard", price=395, free_over=5000)
    ShippingMethodFactory(zone=standard.zone, code="express", name="Express", price=895)
    return standard


def test_home_and_product_page_promise_what_the_zones_say(client, uk_delivery):
    product = product_with_stock(title="Wool Beanie", price=2000)
    expected = "Free United Kingdom delivery on orders of £50.00 or more; otherwise from £3.95."
    home = client.get("/")
    assert home.status_code == 200 and expected in home.content.decode()
    page = client.get(f"/products/{product.slug}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert expected in text and '£20.00 <span class="muted tax-note">incl. VAT</span>' in text

    uk_delivery.free_over = 7500
    uk_delivery.save()
    assert "orders of £75.00 or more" in client.get("/").content.decode()


def test_no_free_delivery_no_free_promise(client, uk_delivery):
    uk_delivery.free_over = None
    uk_delivery.save()
    text = client.get("/").content.decode()
    assert client.get("/").status_code == 200
    assert "United Kingdom delivery from £3.95." in text and "Free United Kingdom" not in text


def test_cart_says_how_much_more_ships_free(client, uk_delivery):
    product = product_with_stock(title="Wool Beanie", price=2000)
    variant = product.variants.get()
    client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    cart = client.get("/cart/")
    assert cart.status_code == 200
    assert "Spend £30.00 more for free United Kingdom delivery." in cart.content.decode()  # 5000 - 2000
    client.post("/cart/add/", {"variant": variant.pk, "quantity": 2})
    assert "Your order qualifies for free United Kingdom delivery." in client.get("/cart/").content.decode()


def test_prices_without_tax_say_so(client, settings, uk_delivery):
    settings.PRICES_INCLUDE_TAX = False
    product = product_with_stock(title="Wool Beanie", price=2000)
    page = client.get(f"/products/{product.slug}/")
    assert page.status_code == 200 and "excl. VAT" in page.content.decode()


def test_the_promise_is_kept_like_the_catalogue_and_a_staff_change_shows_at_once(
    client, settings, uk_delivery
):
    from catalog.selectors import catalog_cache_clear
    from shipping.services import method_active_set

    settings.CATALOG_CACHE_SECONDS = 60
    catalog_cache_clear()
    assert "Free United Kingdom delivery" in client.get("/").content.decode()
    uk_delivery.free_over = None
    uk_delivery.save()  # a change outside the services: kept until the cache expires
    assert "Free United Kingdom delivery" in client.get("/").content.decode()
    method_active_set(method_id=uk_delivery.pk, is_active=False)  # through the services: cleared
    text = client.get("/").content.decode()
    assert "Free United Kingdom delivery" not in text and "United Kingdom delivery from £8.95." in text
    catalog_cache_clear()
