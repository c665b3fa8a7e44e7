"""The checkout's totals follow the country and delivery option in a real browser, without a
reload; without JavaScript the shopper confirms the new totals before the order is placed.

The running shop's own settings apply: prices include VAT, rounded per line. One Merino
Jumper at 65.00 (standard rate: 20 % in the UK, 19 % in Germany). Delivery to the UK:
standard 4.95 (free from 75.00), express 9.95; to Germany and France: standard 9.95,
express 19.95.
    UK, standard:      6500 + 495  = 6995  £69.95
                       VAT 6500 / 6 = 1083.33 -> 1083, 495 / 6 = 82.5 -> 83 (half up): £11.66
    Germany, standard: 6500 + 995  = 7495  £74.95
                       VAT 6500 × 19/119 = 1037.82 -> 1038, 995 × 19/119 = 158.87 -> 159: £11.97
    Germany, express:  6500 + 1995 = 8495  £84.95
                       VAT 1038 + 1995 × 19/119 = 318.53 -> 319: £13.57
"""

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from checkout.models import Order, Payment
from shop.money import format_money
from tests.e2e.flows import GOOD_CARD, add_to_cart, pay
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    StockFactory,
    TaxRateFactory,
    VariantFactory,
)
from tests.helpers import stripe_get

# The README's screenshots are made again only when asked (SHOP_DOCS_SCREENSHOTS=1), so that a test
# run leaves the checkout as it found it; otherwise they go with the other browser tests' shots.
DOCS_SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("SHOP_DOCS_SCREENSHOTS")
    else Path(__file__).resolve().parent / "screenshots"
)


@pytest.fixture
def store(transactional_db, e2e_shop, e2e_stripe, settings):
    """The running shop (this process pointed at the same Stripe) with one jumper, delivery to
    the UK and to Germany and France, and VAT in each."""
    settings.STRIPE_API_BASE = e2e_stripe.url
    settings.INVENTORY_API_URL = f"{e2e_shop.url}/inventory/v1"
    TaxRateFactory(country="GB", rate=20)
    TaxRateFactory(country="DE", rate=19)
    TaxRateFactory(country="FR", rate=20)
    uk = ShippingMethodFactory(
        code="standard", name="Standard delivery", price=495, free_over=7500, estimate="2–4 working days"
    )
    ShippingMethodFactory(zone=uk.zone, code="express", name="Express delivery", price=995, position=1)
    europe = ShippingZoneFactory(name="Europe", countries=["DE", "FR"], position=1)
    ShippingMethodFactory(
        zone=europe, code="standard", name="Standard delivery", price=995, estimate="4–7 working days"
    )
    ShippingMethodFactory(zone=europe, code="express", name="Express delivery", price=1995, position=1)
    jumper = ProductFactory(
        title="Merino Jumper",
        slug="merino-jumper",
        category=CategoryFactory(name="Knitwear"),
        price_from=6500,
    )
    StockFactory(variant=VariantFactory(product=jumper, sku="JUMP-M", options={"size": "M"}, price=6500))
    httpx.delete(f"{e2e_stripe.url}/_config/data", timeout=5).raise_for_status()
    return e2e_shop


def fill_address(page: Page) -> None:
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Full name").fill("Ann Walker")
    page.get_by_label("Address line 1").fill("1 High Street")
    page.get_by_label("City").fill("Kendal")
    page.get_by_label("Postcode").fill("la9 4dt")


def total(page: Page):
    return page.locator("#order-summary [data-total=total]")


def tax(page: Page):
    return page.locator("#order-summary [data-total=tax]")


def method(page: Page, name: str):
    return page.locator("#delivery-methods").get_by_role("radio", name=re.compile(name))


def method_label(page: Page, name: str):
    return page.locator("#delivery-methods label").filter(has_text=name)


def test_totals_follow_the_country_and_method_without_a_reload_and_are_what_is_charged(store, page, settings):
    add_to_cart(page, store.url, "merino-jumper", variant="M")
    page.get_by_role("link", name="Checkout").click()
    fill_address(page)
    expect(total(page)).to_have_text("£69.95")
    expect(tax(page)).to_have_text("£11.66")
    expect(method(page, "Standard delivery")).to_be_checked()
    page.screenshot(path=str(DOCS_SCREENSHOTS / "checkout-uk.png"), full_page=True)
    checkout_url = page.url
    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None
    )
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Postcode").fill("10115")

    page.get_by_label("Country").select_option("DE")

    expect(total(page)).to_have_text("£74.95")
    expect(tax(page)).to_have_text("£11.97")
    expect(page.locator("#order-summary")).to_contain_text("Delivery to Germany")
    expect(method_label(page, "Standard delivery")).to_contain_text("£9.95")
    expect(method_label(page, "Express delivery")).to_contain_text("£19.95")
    expect(page.locator("#delivery-methods")).to_contain_text("4–7 working days")
    expect(page.locator("form[data-totals-url]")).not_to_have_attribute("aria-busy", "true")
    page.screenshot(path=str(DOCS_SCREENSHOTS / "checkout-de.png"), full_page=True)

    method(page, "Express delivery").check()

    expect(total(page)).to_have_text("£84.95")
    expect(tax(page)).to_have_text("£13.57")
    expect(page.locator("form[data-totals-url]")).not_to_have_attribute("aria-busy", "true")
    assert page.evaluate("window.stillTheSamePage") is True
    assert (page.url, navigations) == (checkout_url, [])
    shown = total(page).inner_text()

    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name=f"Pay {shown}")).to_be_visible()
    pay(page, GOOD_CARD)

    expect(page.get_by_text(re.compile(r"Thank you! Your payment was received"))).to_be_visible()
    order = Order.objects.get()
    assert (order.country, order.shipping_method_code, order.payment_status) == ("DE", "express", "paid")
    assert (order.total, order.tax_total, order.shipping_tax) == (8495, 1357, 319)
    intent = stripe_get(settings, f"payment_intents/{Payment.objects.get(order=order).payment_intent_id}")
    assert (intent["amount"], intent["status"]) == (8495, "succeeded")
    # What was charged is the number the page showed last.
    assert format_money(intent["amount"], "GBP") == format_money(order.total, "GBP") == shown == "£84.95"


def test_without_javascript_a_changed_country_shows_the_new_totals_to_confirm(store, chromium, settings):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        add_to_cart(page, store.url, "merino-jumper", variant="M")
        page.get_by_role("link", name="Checkout").click()
        fill_address(page)
        expect(total(page)).to_have_text("£69.95")
        page.get_by_label("City").fill("Berlin")
        page.get_by_label("Postcode").fill("10115")
        page.get_by_label("Country").select_option("DE")
        # Nothing follows the change without the script: the page still shows the UK's totals.
        expect(total(page)).to_have_text("£69.95")

        page.get_by_role("button", name="Continue to payment").click()

        expect(page.locator(".messages")).to_contain_text("Prices changed since you opened this page")
        expect(page.locator(".messages")).to_contain_text("Germany")
        expect(page.locator(".messages")).to_contain_text("Your total is now £74.95 (it was £69.95).")
        expect(total(page)).to_have_text("£74.95")
        expect(tax(page)).to_have_text("£11.97")
        expect(page.get_by_label("Country")).to_have_value("DE")
        assert not Order.objects.exists()

        page.get_by_role("button", name="Continue to payment").click()

        expect(page.get_by_role("heading", name=re.compile("Pay for order"))).to_be_visible()
        order = Order.objects.get()
        assert (order.country, order.shipping_method_code, order.total, order.tax_total) == (
            "DE",
            "standard",
            7495,
            1197,
        )
        intent = stripe_get(settings, f"payment_intents/{Payment.objects.get(order=order).payment_intent_id}")
        assert intent["amount"] == 7495
        expect(page.get_by_role("button", name="Pay £74.95")).to_be_visible()
    finally:
        context.close()
