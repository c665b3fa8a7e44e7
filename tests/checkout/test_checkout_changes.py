"""What changes between the checkout page and "Place order": prices, and items withdrawn from sale.

The shopper sees any new price and confirms it by placing again; a withdrawn item
(its variant, product or any category above it switched off) is never ordered.
"""

import re

import pytest

from catalog.models import Category, Product
from checkout.models import CartLine, Order, Payment
from inventory.models import Reservation, Stock
from shipping.models import ShippingBand
from taxes.models import TaxRate
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory

ADDRESS = {
    "email": "ann@example.com",
    "full_name": "Ann Walker",
    "line1": "1 High Street",
    "line2": "",
    "city": "Kendal",
    "postcode": "LA9 4DT",
    "country": "GB",
    "phone": "",
    "shipping_method": "standard",
}


def page_form(body: str) -> dict[str, str]:
    """Return the hidden fields the checkout page carries."""
    return {
        "cart_version": re.search(r'name="cart_version" value="(\d+)"', body).group(1),
        "quote": re.search(r'name="quote" value="([^"]+)"', body).group(1),
    }


def open_checkout(client, variant, quantity=1) -> dict[str, str]:
    assert client.post("/cart/add/", {"variant": variant.pk, "quantity": quantity}).status_code == 302
    response = client.get("/checkout/")
    assert response.status_code == 200
    return page_form(response.content.decode())


def choose(client, seen: dict[str, str], **choice: str) -> dict[str, str]:
    """Return the page's hidden fields once its script has fetched the totals for `choice`
    (country and shipping_method), as it does when the shopper changes either."""
    response = client.get("/checkout/totals/", choice)
    assert response.status_code == 200
    return {**seen, **choice, "quote": response.json()["quote"]}


def nothing_placed(variant, on_hand: int) -> None:
    assert not Order.objects.exists()
    assert not Payment.objects.exists() and not Reservation.objects.exists()
    stock = Stock.objects.get(variant=variant)
    assert (stock.on_hand, stock.allocated) == (on_hand, 0)


# Prices ---------------------------------------------------------------------------------


def test_a_price_changed_since_the_page_is_shown_and_confirmed_before_placing(
    outside, shipping, client, jumper
):
    # £65.00 + £4.95 delivery = £69.95, VAT included: 6500*20/120 = 1083.33 -> 1083 and
    # 495*20/120 = 82.5 -> 83, so £11.66.
    seen = open_checkout(client, jumper)
    jumper.price = 7000
    jumper.save()

    refused = client.post("/checkout/", {**ADDRESS, **seen})

    assert refused.status_code == 409
    body = refused.content.decode()
    assert (
        "Prices changed since you opened this page: Merino Jumper (M) now costs £70.00 (it was £65.00)."
        in body
    )
    assert "Nothing was charged. Please check the new total and place your order again to confirm it." in body
    # The new totals: £70.00 + £4.95 = £74.95, VAT included 7000*20/120 = 1166.67 -> 1167 plus
    # 83 on delivery = £12.50; and the shopper's entries kept.
    assert "Your total is now £74.95 (it was £69.95)." in body
    assert 'data-total="total">£74.95<' in body and 'data-total="tax">£12.50<' in body
    assert 'value="1 High Street"' in body
    nothing_placed(jumper, on_hand=3)
    assert CartLine.objects.get().quantity == 1

    confirmed = client.post("/checkout/", {**ADDRESS, **page_form(body)})

    assert confirmed.status_code == 302 and confirmed["Location"].endswith("/pay/")
    order = Order.objects.get()
    # Net of VAT: goods 7000 - 1167 = 5833, delivery 495 - 83 = 412.
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (5833, 412, 1250, 7495)
    assert [(line.sku, line.unit_price) for line in order.lines.all()] == [("JUMP-M", 7000)]


def test_a_delivery_price_changed_since_the_page_is_shown_first(outside, shipping, client, jumper):
    seen = open_checkout(client, jumper)
    express = choose(client, seen, country="GB", shipping_method="express")
    ShippingBand.objects.filter(method__code="express").update(price=1295)

    refused = client.post("/checkout/", {**ADDRESS, **express})

    assert refused.status_code == 409
    body = refused.content.decode()
    assert "Delivery (Express) now costs £12.95 (it was £9.95)." in body
    assert "Your total is now £77.95 (it was £74.95)." in body
    nothing_placed(jumper, on_hand=3)
    # The standard option did not change: choosing it on the same page places the order.
    placed = client.post(
        "/checkout/", {**ADDRESS, **choose(client, seen, country="GB", shipping_method="standard")}
    )
    assert placed.status_code == 302
    order = Order.objects.get()
    # £4.95 incl. VAT 495*20/120 = 82.5 -> 83: net 412.
    assert (order.shipping_method_code, order.shipping_gross, order.shipping_total, order.shipping_tax) == (
        "standard",
        495,
        412,
        83,
    )


def test_a_tax_rate_changed_since_the_page_is_shown_first(outside, shipping, client, jumper):
    seen = open_checkout(client, jumper)
    TaxRate.objects.filter(country="GB").update(rate=25)

    refused = client.post("/checkout/", {**ADDRESS, **seen})

    assert refused.status_code == 409
    body = refused.content.decode()
    # The price includes VAT, so the total stays £69.95; the VAT in it was 1083 + 83 = £11.66 and
    # at 25 % is 6500*25/125 = 1300 plus 495*25/125 = 99, £13.99.
    assert "The tax rate for delivery to United Kingdom has changed" in body
    assert 'data-total="total">£69.95<' in body and 'data-total="tax">£13.99<' in body
    nothing_placed(jumper, on_hand=3)


def test_choosing_another_delivery_or_country_on_the_page_is_not_a_change(outside, shipping, client, jumper):
    seen = open_checkout(client, jumper)
    express = choose(client, seen, country="GB", shipping_method="express")
    germany = choose(client, express, country="DE", shipping_method="express")

    # Germany has no express delivery: the page offers its standard option instead.
    assert germany["quote"] != express["quote"]
    response = client.post(
        "/checkout/", {**ADDRESS, **germany, "shipping_method": "standard", "postcode": "10115"}
    )

    assert response.status_code == 302
    order = Order.objects.get()
    # £65.00 + £9.95 to Germany = £74.95, the same prices with German VAT at 19 % inside them:
    # 6500*19/119 = 1037.82 -> 1038 and 995*19/119 = 158.87 -> 159, so £11.97.
    assert (order.country, order.shipping_method_code, order.tax_name) == ("DE", "standard", "VAT")
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (5462, 836, 1197, 7495)
    assert list(order.taxes.values_list("rate", "net", "tax")) == [(19, 6298, 1197)]


def test_a_country_chosen_without_the_totals_following_is_shown_to_confirm(outside, shipping, client, jumper):
    seen = open_checkout(client, jumper)

    refused = client.post("/checkout/", {**ADDRESS, **seen, "country": "DE", "postcode": "10115"})

    assert refused.status_code == 409
    body = refused.content.decode()
    assert "The totals below are for delivery to Germany (Standard)." in body
    assert "Your total is now £74.95 (it was £69.95)." in body
    nothing_placed(jumper, on_hand=3)
    confirmed = client.post(
        "/checkout/", {**ADDRESS, **page_form(body), "country": "DE", "postcode": "10115"}
    )
    assert confirmed.status_code == 302
    assert Order.objects.get().total == 7495


def test_a_double_submit_after_a_price_change_finds_the_order_already_placed(
    outside, shipping, client, jumper
):
    seen = open_checkout(client, jumper)
    first = client.post("/checkout/", {**ADDRESS, **seen})
    jumper.price = 7000
    jumper.save()

    second = client.post("/checkout/", {**ADDRESS, **seen})

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Order.objects.get().total == 6995  # £65.00 + £4.95, VAT included


# "": a form not sent from the page the shopper saw; it is shown again with the totals to confirm.
@pytest.mark.parametrize("quote", ["", "made-up", "a" * 20001, "e30:1tX8aB:bad-signature"])
def test_an_altered_price_copy_is_refused_and_nothing_is_placed(outside, shipping, client, jumper, quote):
    seen = open_checkout(client, jumper)

    response = client.post("/checkout/", {**ADDRESS, **seen, "quote": quote})

    assert response.status_code == 400
    body = response.content.decode()
    assert "This checkout page is out of date. Please check your order and submit it again." in body
    assert (
        'data-total="total">£69.95<' in body
    )  # the totals to confirm, with a fresh copy of them to place with
    assert 'name="quote" value="' in body
    nothing_placed(jumper, on_hand=3)


# Items withdrawn from sale --------------------------------------------------------------


@pytest.fixture
def lamp():
    """A lamp filed under Lighting › Lamps, with five in stock."""
    lighting = CategoryFactory(name="Lighting", slug="lighting")
    lamps = CategoryFactory(name="Lamps", slug="lamps", parent=lighting)
    product = ProductFactory(title="Brass Lamp", slug="brass-lamp", category=lamps, price_from=4000)
    variant = VariantFactory(product=product, sku="LAMP", price=4000)
    StockFactory(variant=variant, on_hand=5)
    return variant


WITHDRAWALS = {
    "its category": lambda lamp: Category.objects.filter(slug="lamps").update(is_active=False),
    "a category above it": lambda lamp: Category.objects.filter(slug="lighting").update(is_active=False),
    "its product": lambda lamp: Product.objects.filter(pk=lamp.product_id).update(is_active=False),
    "its variant": lambda lamp: type(lamp).objects.filter(pk=lamp.pk).update(is_active=False),
}
WITHDRAWN = "Brass Lamp is no longer available: we no longer sell it. Please remove it from your cart."


@pytest.mark.parametrize("withdrawal", WITHDRAWALS)
def test_an_item_withdrawn_after_it_was_added_is_shown_and_never_ordered(
    outside, shipping, client, lamp, jumper, withdrawal
):
    seen = open_checkout(client, lamp)
    assert client.post("/cart/add/", {"variant": jumper.pk, "quantity": 1}).status_code == 302
    seen = page_form(client.get("/checkout/").content.decode())
    WITHDRAWALS[withdrawal](lamp)

    cart = client.get("/cart/").content.decode()
    assert "No longer available" in cart and WITHDRAWN in cart
    assert "£65.00" in cart  # the subtotal counts only what can still be bought
    assert '<button type="button" disabled>Checkout</button>' in cart
    page = client.get("/checkout/").content.decode()
    assert WITHDRAWN in page and 'class="place-order" data-blocked disabled' in page

    refused = client.post("/checkout/", {**ADDRESS, **seen})

    assert refused.status_code == 409
    assert WITHDRAWN in refused.content.decode()
    nothing_placed(lamp, on_hand=5)
    assert Stock.objects.get(variant=jumper).allocated == 0
    assert CartLine.objects.count() == 2


@pytest.mark.parametrize("withdrawal", WITHDRAWALS)
def test_an_item_withdrawn_cannot_be_added_or_increased(db, client, lamp, withdrawal):
    assert client.post("/cart/add/", {"variant": lamp.pk, "quantity": 1}).status_code == 302
    WITHDRAWALS[withdrawal](lamp)

    added = client.post("/cart/add/", {"variant": lamp.pk, "quantity": 1}, follow=True)
    assert added.status_code == 200
    assert "Sorry, that item is no longer sold." in added.content.decode()
    increased = client.post("/cart/update/", {"variant": lamp.pk, "quantity": 3}, follow=True)
    assert "Sorry, Brass Lamp is no longer sold, so you cannot add more." in increased.content.decode()
    assert CartLine.objects.get().quantity == 1

    removed = client.post("/cart/update/", {"variant": lamp.pk, "remove": "1"}, follow=True)
    assert "Removed from your cart." in removed.content.decode()
    assert not CartLine.objects.exists()


def test_products_under_a_switched_off_category_are_not_shown_in_the_shop(db, client, lamp):
    Category.objects.filter(slug="lighting").update(is_active=False)

    assert client.get("/products/brass-lamp/").status_code == 404
    assert client.get("/category/lamps/").status_code == 404
    search = client.get("/search/?q=brass+lamp")
    assert search.status_code == 200
    assert "Brass Lamp" not in search.content.decode()
