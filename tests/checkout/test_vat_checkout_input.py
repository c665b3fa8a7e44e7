"""Bad input at checkout: each refused with a message that says what to do, and no order written.

Delivery and VAT from the `shipping` fixture: UK standard 4.95 (free from 75.00), express 9.95;
Europe (Germany, France) standard 9.95; VAT 20 % in the UK. One Merino Jumper at 65.00.
"""

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from checkout.models import Order, Payment
from shipping.models import ShippingMethod, ShippingZone
from tests.helpers import checkout_form, fill_cart, stripe_get


class _FormReader(HTMLParser):
    """The checkout form's fields as a browser would send them: inputs, checked radios and boxes,
    selected options."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and "data-totals-url" in attributes:
            self._in_form = True
        if not self._in_form:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attributes:
                    self.fields[name] = attributes.get("value") or "on"
            elif kind != "submit":
                self.fields[name] = attributes.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            self.fields[self._select] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False


def page_form(html: str) -> dict[str, str]:
    """Return what "Place order" on this checkout page would send."""
    reader = _FormReader()
    reader.feed(html)
    return reader.fields


def text(response) -> str:
    """Return the page's words, tags stripped and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def summary_total(response) -> str:
    return re.search(r'data-total="total">([^<]+)<', response.content.decode()).group(1)


@pytest.fixture
def germany_too(shipping):
    """The zone that delivers to Germany and France."""
    return ShippingZone.objects.get(name="Europe")


def test_a_country_no_zone_serves_is_refused_with_a_message(outside, client, shipping, jumper):
    version = fill_cart(client, (jumper, 1))

    totals = client.get("/checkout/totals/", {"country": "US", "shipping_method": "standard"})
    response = client.post("/checkout/", checkout_form(client, version, country="US"))

    assert totals.status_code == 200
    assert "Sorry, we do not deliver to United States" in unescape(totals.json()["methods"])
    assert response.status_code == 400
    assert "Sorry, we do not deliver to that country. Please choose one of those listed." in text(response)
    assert not Order.objects.exists() and not Payment.objects.exists()


def test_the_summary_offers_no_free_delivery_where_none_delivers(outside, client, shipping, jumper):
    fill_cart(client, (jumper, 1))

    totals = client.get("/checkout/totals/", {"country": "US", "shipping_method": "standard"})

    assert totals.status_code == 200
    assert "Sorry, we do not deliver to United States" in unescape(totals.json()["methods"])
    # Nothing delivers there: the summary must not tell the shopper that delivery is free.
    assert 'data-total="delivery">Free<' not in totals.json()["summary"]


@pytest.mark.parametrize("country", ["ZZ", "gb", "", "<b>", "G" * 300])
def test_a_country_that_is_not_one_is_refused_without_an_error_page(
    outside, client, shipping, jumper, country
):
    version = fill_cart(client, (jumper, 1))

    totals = client.get("/checkout/totals/", {"country": country, "shipping_method": "standard"})
    response = client.post("/checkout/", checkout_form(client, version, country=country))

    assert totals.status_code == 200
    assert response.status_code == 400
    assert "Please correct the fields marked below." in text(response)
    assert "<b>" not in response.content.decode().split("<h1>Checkout</h1>")[1]
    assert not Order.objects.exists()


def test_a_delivery_method_switched_off_before_placing_shows_the_new_total_to_confirm(
    outside, client, shipping, jumper
):
    version = fill_cart(client, (jumper, 1))
    seen = checkout_form(client, version, shipping_method="express")  # 65.00 + 9.95 = 74.95
    ShippingMethod.objects.filter(code="express").update(is_active=False)

    response = client.post("/checkout/", seen)

    assert response.status_code == 409
    assert not Order.objects.exists() and not Payment.objects.exists()
    words = text(response)
    assert "Express" in words and "not available" in words
    # Standard delivery 4.95: 65.00 + 4.95 = 69.95, VAT inside 1083 + 83 (495 / 6 = 82.5 -> 83) = 11.66
    assert summary_total(response) == "£69.95"
    assert "Includes VAT £11.66" in words
    again = page_form(response.content.decode())
    assert again["shipping_method"] == "standard"

    placed = client.post("/checkout/", again)

    assert placed.status_code == 302
    order = Order.objects.get()
    assert (order.shipping_method_code, order.total, order.tax_total) == ("standard", 6995, 1166)
    intent = stripe_get(outside, f"payment_intents/{Payment.objects.get(order=order).payment_intent_id}")
    assert intent["amount"] == 6995


def test_a_zone_switched_off_before_placing_is_refused_with_a_message(
    outside, client, shipping, jumper, germany_too
):
    version = fill_cart(client, (jumper, 1))
    germany = {"country": "DE", "city": "Berlin", "postcode": "10115"}
    seen = checkout_form(client, version, **germany)  # 65.00 + 9.95 to Germany
    germany_too.is_active = False
    germany_too.save(update_fields=["is_active"])

    response = client.post("/checkout/", seen)

    # The country is no longer one the form offers: a field error, and the summary says why.
    assert response.status_code == 400
    words = text(response)
    assert "Sorry, we do not deliver to that country. Please choose one of those listed." in words
    assert "Sorry, we do not deliver to Germany" in words
    assert not Order.objects.exists() and not Payment.objects.exists()
    # The page the shopper is sent back to offers only what is still served, and places from it
    # once they choose the UK.
    again = page_form(response.content.decode())
    assert 'value="DE"' not in response.content.decode()
    retry = client.get("/checkout/totals/", {"country": "GB", "shipping_method": "standard"})
    again.update(country="GB", city="Kendal", postcode="LA9 4DT", quote=retry.json()["quote"])
    again["shipping_method"] = "standard"
    assert client.post("/checkout/", again).status_code == 302
    assert Order.objects.get().total == 6995


def test_a_price_changed_before_placing_shows_the_new_total_to_confirm(outside, client, shipping, jumper):
    version = fill_cart(client, (jumper, 1))
    seen = checkout_form(client, version)  # 65.00 + 4.95 = 69.95
    jumper.price = 6000
    jumper.save(update_fields=["price"])

    response = client.post("/checkout/", seen)

    assert response.status_code == 409
    assert not Order.objects.exists() and not Payment.objects.exists()
    words = text(response)
    assert "Merino Jumper (M) now costs £60.00 (it was £65.00)." in words
    # 60.00 + 4.95 = 64.95; VAT 6000 / 6 = 1000, + 83 on delivery = 10.83
    assert "Your total is now £64.95 (it was £69.95)." in words
    assert summary_total(response) == "£64.95"
    assert "Includes VAT £10.83" in words

    placed = client.post("/checkout/", page_form(response.content.decode()))

    assert placed.status_code == 302
    order = Order.objects.get()
    assert (order.total, order.tax_total, order.subtotal, order.shipping_total) == (6495, 1083, 5000, 412)
    assert order.lines.get().unit_price == 6000


def test_a_country_changed_without_the_totals_following_names_the_delivery_plainly(
    outside, client, shipping, jumper
):
    # Methods named as the shop's own demo data names them.
    ShippingMethod.objects.filter(code="standard").update(name="Standard delivery")
    version = fill_cart(client, (jumper, 1))
    seen = checkout_form(client, version)  # the UK's totals: 65.00 + 4.95 = 69.95
    seen.update(country="DE", city="Berlin", postcode="10115")  # changed with no script to follow it

    response = client.post("/checkout/", seen)

    assert response.status_code == 409
    assert not Order.objects.exists()
    words = text(response)
    # Germany: 65.00 + 9.95 = 74.95
    assert "Your total is now £74.95 (it was £69.95)." in words
    assert "The totals below are for delivery to Germany (Standard delivery)." in words


def test_a_form_without_the_pages_prices_is_shown_again_to_confirm(outside, client, shipping, jumper):
    version = fill_cart(client, (jumper, 1))
    form = checkout_form(client, version)
    form["quote"] = form["quote"][:-4] + "AAAA"  # altered in the browser

    response = client.post("/checkout/", form)

    assert response.status_code == 400
    assert "This checkout page is out of date. Please check your order and submit it again." in text(response)
    assert not Order.objects.exists()
    assert client.post("/checkout/", page_form(response.content.decode())).status_code == 302
    assert Order.objects.get().total == 6995
