"""A shopper uses a discount code, in a real browser against the running shop: applied on the
cart page, the same discounted total at checkout and on the card, and the order shows it."""

import os
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect

from checkout.models import Order, Payment
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.e2e.flows import GOOD_CARD, add_to_cart, fill_checkout, pay
from tests.factories import order_codes

# The README's screenshots are made again only when asked (SHOP_DOCS_SCREENSHOTS=1), so that a test
# run leaves the checkout as it found it; otherwise they go with the other browser tests' shots.
DOCS_SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("SHOP_DOCS_SCREENSHOTS")
    else Path(__file__).resolve().parent / "screenshots"
)


def test_a_code_applied_on_the_cart_is_paid_and_shown_on_the_order(shop, page):
    promotion = Promotion.objects.create(name="Ten off", reward="percent", percent=Decimal(10))
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    add_to_cart(page, shop.url, "brora-merino-jumper", variant="M / Navy")

    # The jumper is £65.00; 10 % off is £6.50, so the goods come to £58.50.
    page.get_by_label("Discount code").fill("save10")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Ten off: £6.50 off.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Ten off \(SAVE10\)"))).to_be_visible()
    expect(page.locator('[data-total="discount"]')).to_have_text("−£6.50")
    expect(page.get_by_text("Discount code SAVE10")).to_be_visible()
    page.screenshot(path=str(DOCS_SCREENSHOTS / "cart-code.png"), full_page=True)
    page.shot("cart")
    # What the cart says the goods come to once the code is taken off, and how far that is from
    # free delivery (from £75, on the goods after the discount, as the checkout charges it):
    # checked at the end, so that the rest of the visit is checked too.
    cart = page.locator("main")
    cart_problems = [
        problem
        for problem, shown in [
            ("no £58.50 for the goods after the discount", cart.get_by_text("£58.50").count() > 0),
            (
                "not 'Spend £16.50 more for free United Kingdom delivery.'",
                cart.get_by_text("Spend £16.50 more for free United Kingdom delivery.").count() > 0,
            ),
        ]
        if not shown
    ]

    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    # £58.50 of goods and £4.95 of delivery (under £75 after the discount): £63.45, VAT included
    # 5850 / 6 = 975 and 495 / 6 = 82.5 -> 83, so £10.58.
    expect(page.locator('[data-total="subtotal"]')).to_have_text("£65.00")
    expect(page.locator('[data-total="discount"]')).to_have_text("−£6.50")
    expect(page.locator('[data-total="delivery"]')).to_have_text("£4.95")
    expect(page.locator('[data-total="total"]')).to_have_text("£63.45")
    expect(page.locator('[data-total="tax"]')).to_have_text("£10.58")
    page.shot("checkout")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name="Pay £63.45")).to_be_visible()
    pay(page, GOOD_CARD)

    expect(
        page.get_by_text(re.compile(r"Thank you! Your payment was received and order NW\d+ is confirmed."))
    ).to_be_visible()
    discount_row = page.locator("tr.discount")
    expect(discount_row.locator("th")).to_have_text("Ten off (SAVE10)")
    expect(discount_row.locator("td")).to_have_text("−£6.50")
    expect(page.locator("tr.grand").first).to_contain_text("£63.45")
    page.shot("confirmation")

    order = Order.objects.get()
    assert (order.payment_status, order_codes(order), order.discount_total, order.total) == (
        "paid",
        ("SAVE10",),
        650,
        6345,
    )
    assert Payment.objects.get(order=order).amount_received == 6345
    assert CodeUse.objects.get(order=order).status == "consumed"
    assert cart_problems == [], "the cart with the code applied shows " + "; ".join(cart_problems)
