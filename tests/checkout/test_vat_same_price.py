"""The price a shopper sees is the same number everywhere: the product page, the cart, the
checkout page and its live totals, what Stripe is asked to charge, the payment page, the
order's page, the confirmation e-mail and the VAT receipt.

The basket: 2 × Enamel Mug at 12.50 (standard rate) and 1 × Baby Sling at 29.99 (reduced),
goods 25.00 + 29.99 = 54.99, under the 75.00 of free UK delivery: standard delivery 4.95.
Delivery is shared by the goods' value, 495 × 2500/5499 = 225.05 and × 2999/5499 = 269.95:
floors 225 + 269 = 494, the 1 left to the .95: 225 at 20 % and 270 at 5 %.

Prices including VAT (the shop's default), VAT rounded per line:
    mug 2500 / 6 = 416.67 -> 417; sling 2999 / 21 = 142.81 -> 143
    delivery 225 / 6 = 37.5 -> 38 (half up); 270 / 21 = 12.86 -> 13
    VAT 417 + 143 + 38 + 13 = 611; total 5499 + 495 = 5994
Prices excluding VAT:
    mug 2500 × 0.2 = 500; sling 2999 × 0.05 = 149.95 -> 150
    delivery 225 × 0.2 = 45; 270 × 0.05 = 13.5 -> 14 (half up)
    VAT 500 + 150 + 45 + 14 = 709; total 5499 + 495 + 709 = 6703
"""

import re
from html import unescape

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse

from checkout.models import Order, Payment
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    StockFactory,
    TaxClassFactory,
    TaxRateFactory,
    VariantFactory,
)
from tests.helpers import GOOD_CARD, Browser, fill_cart, place, run_due_tasks, stripe_get

SEEN = {
    # mode: (tax label, VAT, total)
    "included": ("Includes VAT", "£6.11", "£59.94"),
    "excluded": ("VAT", "£7.09", "£67.03"),
}
TOTAL_MINOR = {"included": 5994, "excluded": 6703}
SUBTOTAL, DELIVERY = "£54.99", "£4.95"
MUG, MUG_LINE, SLING = "£12.50", "£25.00", "£29.99"


@pytest.fixture(params=["included", "excluded"])
def mode(request, settings):
    settings.PRICES_INCLUDE_TAX = request.param == "included"
    settings.TAX_ROUNDING = "line"
    return request.param


@pytest.fixture
def goods(shipping):
    """The mug (standard rate) and the sling (reduced rate, 5 % in the UK)."""
    TaxRateFactory(tax_class=TaxClassFactory(code="reduced"), country="GB", rate=5)
    category = CategoryFactory()
    mug = VariantFactory(
        product=ProductFactory(title="Enamel Mug", slug="enamel-mug", category=category, price_from=1250),
        sku="MUG",
        price=1250,
    )
    sling = VariantFactory(
        product=ProductFactory(
            title="Baby Sling",
            slug="baby-sling",
            category=category,
            price_from=2999,
            tax_class=TaxClassFactory(code="reduced"),
        ),
        sku="SLING",
        price=2999,
    )
    for variant in (mug, sling):
        StockFactory(variant=variant, on_hand=10)
    return mug, sling


def rows(html: str) -> list[str]:
    """Return the text of each table row of a page, tags stripped and spaces collapsed."""
    found = [re.sub(r"<[^>]+>", " ", row) for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S)]
    return [" ".join(unescape(row).split()) for row in found]


def amount(lines: list[str], label: str) -> str:
    """Return the first amount on the first line that starts with `label` and shows one."""
    for line in lines:
        if line.startswith(label):
            match = re.search(r"£[\d,]+\.\d\d", line)
            if match:
                return match.group()
    raise AssertionError(f"no line starting {label!r} with an amount in {lines}")


def line_with(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)


def assert_totals(lines: list[str], mode: str, *, delivery: str = "Delivery", tax_label: str = "") -> None:
    """Assert the subtotal, delivery, VAT and total rows show what the checkout showed."""
    seen_label, tax, total = SEEN[mode]
    assert amount(lines, "Subtotal") == SUBTOTAL
    assert amount(lines, delivery) == DELIVERY
    assert amount(lines, tax_label or seen_label) == tax
    assert amount(lines, "Total") == total


def test_product_pages_cart_and_checkout_show_the_same_prices(db, client, goods, mode):
    for slug, price in [("enamel-mug", MUG), ("baby-sling", SLING)]:
        page = client.get(f"/products/{slug}/")
        assert page.status_code == 200
        assert f'<span class="variant-price">{price}</span>' in page.content.decode()
    mug, sling = goods
    fill_cart(client, (mug, 2), (sling, 1))

    cart = client.get("/cart/")
    assert cart.status_code == 200
    cart_rows = rows(cart.content.decode())
    mug_row = line_with(cart_rows, "Enamel Mug")
    assert mug_row.startswith(f"Enamel Mug {MUG} ") and mug_row.endswith(MUG_LINE)
    sling_row = line_with(cart_rows, "Baby Sling")
    assert sling_row.startswith(f"Baby Sling {SLING} ") and sling_row.endswith(SLING)
    assert amount(cart_rows, "Subtotal") == SUBTOTAL

    checkout = client.get("/checkout/")
    assert checkout.status_code == 200
    checkout_rows = rows(checkout.content.decode())
    assert line_with(checkout_rows, "Enamel Mug") == f"Enamel Mug × 2 {MUG_LINE}"
    assert line_with(checkout_rows, "Baby Sling") == f"Baby Sling × 1 {SLING}"
    assert_totals(checkout_rows, mode)

    totals = client.get("/checkout/totals/", {"country": "GB", "shipping_method": "standard"})
    assert totals.status_code == 200
    assert_totals(rows(totals.json()["summary"]), mode)


def test_stripe_the_payment_page_and_the_order_page_show_the_same_total(outside, client, goods, mode):
    mug, sling = goods
    response = place(client, fill_cart(client, (mug, 2), (sling, 1)))
    assert response.status_code == 302
    order = Order.objects.get()
    _tax_label, _tax, total = SEEN[mode]

    intent = stripe_get(outside, f"payment_intents/{Payment.objects.get(order=order).payment_intent_id}")
    assert intent["amount"] == order.total == TOTAL_MINOR[mode]

    pay_page = client.get(response["Location"])
    assert pay_page.status_code == 200
    assert f"Pay {total}" in pay_page.content.decode()

    order_page = client.get(f"/order/{order.public_token}/")
    assert order_page.status_code == 200
    order_rows = rows(order_page.content.decode())
    assert f"2 {MUG} {MUG_LINE}" in line_with(order_rows, "Enamel Mug")
    assert f"1 {SLING} {SLING}" in line_with(order_rows, "Baby Sling")
    assert_totals(order_rows, mode)


def _paid_order(outside, client, goods) -> Order:
    mug, sling = goods
    assert place(client, fill_cart(client, (mug, 2), (sling, 1))).status_code == 302
    order = Order.objects.get()
    paid = Browser(client, outside.STRIPE_API_BASE, order).pay(GOOD_CARD)
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
    order.refresh_from_db()
    return order


def test_the_confirmation_email_shows_the_same_prices(outside, client, goods, mode):
    order = _paid_order(outside, client, goods)
    run_due_tasks()

    (message,) = [m for m in mail.outbox if m.subject.endswith(f"order {order.number} is confirmed")]
    lines = [" ".join(line.split()) for line in message.body.splitlines()]
    assert line_with(lines, "Enamel Mug").endswith(MUG_LINE)
    assert line_with(lines, "Baby Sling").endswith(SLING)
    # The plain text lists each line and delivery's part at each rate, then the totals.
    tax_label = "Includes VAT" if mode == "included" else "VAT:"
    assert_totals(lines, mode, delivery="Delivery (Standard):", tax_label=tax_label)
    assert amount(lines, "Total paid:") == SEEN[mode][2]
    html_rows = rows(message.alternatives[0].content)
    assert_totals(html_rows, mode)


def test_the_vat_receipt_shows_the_same_prices(outside, client, goods, mode):
    try:
        reverse("checkout:order-receipt", kwargs={"token": "x" * 32})
    except NoReverseMatch:
        pytest.skip("the shop has no receipt page")
    order = _paid_order(outside, client, goods)
    tax_label, tax, total = SEEN[mode]

    receipt = client.get(reverse("checkout:order-receipt", kwargs={"token": order.public_token}))

    assert receipt.status_code == 200
    body = receipt.content.decode()
    receipt_rows = rows(body)
    assert f"2 {MUG}" in line_with(receipt_rows, "Enamel Mug")
    assert f"1 {SLING}" in line_with(receipt_rows, "Baby Sling")
    grand = line_with(receipt_rows, "Total")
    assert grand.endswith(f"{tax} {total}"), grand
    assert f"Total paid: {total}" in " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
