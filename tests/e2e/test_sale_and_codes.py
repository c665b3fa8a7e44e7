"""A shopper in a sale, with two codes that combine, in a real browser against the running shop:
the sale price on the card and the product page, both codes on the cart, the same totals at
checkout and on the card, and the order shows each code and the sale."""

import os
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect

from catalog.models import Product
from checkout.models import Order, OrderDiscount, Payment
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


def test_a_sale_and_two_codes_are_paid_and_shown_on_the_order(shop, page):
    sale = Promotion.objects.create(name="Winter sale", kind="sale", reward="percent", percent=Decimal(20))
    sale.products.add(Product.objects.get(slug="brora-merino-jumper"))
    for text, name, reward in [
        ("FIVER", "Five off", {"reward": "fixed", "amount": 500}),
        ("TENPC", "Ten off", {"reward": "percent", "percent": Decimal(10)}),
    ]:
        promotion = Promotion.objects.create(name=name, combinable=True, **reward)
        DiscountCode.objects.create(promotion=promotion, code=text)

    # The jumper, £65.00, is 20 % off in the sale: 6500 × 0.2 = 1300 off, £52.00. The mug is not on sale.
    page.goto(f"{shop.url}/category/clothing/")
    expect(page.get_by_role("heading", name="Clothing")).to_be_visible()
    expect(page.get_by_role("link", name="Sale", exact=True)).to_be_visible()
    card = page.locator("li.card", has_text="Brora Merino Jumper")
    expect(card.locator(".sale-price")).to_have_text("£52.00")
    expect(card.locator(".was")).to_have_text("was £65.00")
    expect(card.locator(".card-sale")).to_have_text("Winter sale")
    page.screenshot(path=str(DOCS_SCREENSHOTS / "sale-card.png"), full_page=True)
    page.shot("listing")

    card.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Brora Merino Jumper")).to_be_visible()
    expect(page.locator(".sale-badge")).to_have_text("Winter sale")
    expect(page.locator("p.price .sale-price")).to_have_text("£52.00")
    expect(page.locator("p.price .was")).to_have_text("was £65.00")
    page.shot("product")

    add_to_cart(page, shop.url, "brora-merino-jumper", variant="M / Navy")
    add_to_cart(page, shop.url, "enamel-camp-mug")
    # The goods at their sale prices: 5200 + 1250 = £64.50, the sale saving £13.00.
    expect(
        page.get_by_role("row", name=re.compile("Brora Merino Jumper")).locator(".sale-price").first
    ).to_have_text("£52.00")
    expect(page.locator('[data-total="sale"]')).to_have_text("£13.00")

    # FIVER's £5.00 is shared 5200 : 1250 = 403.10 / 96.90 -> floors 403 + 96, the penny left to .90:
    # jumper 403, mug 97, leaving 4797 + 1153 = 5950. TENPC takes 10 % of that, 595 (jumper 480,
    # mug 115). £10.95 off in all: the goods come to 6450 - 1095 = £53.55.
    page.get_by_label("Discount code").fill("fiver")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Five off: £5.00 off.")).to_be_visible()
    page.get_by_label("Another discount code").fill("tenpc")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Ten off: £5.95 off.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Five off \(FIVER\)"))).to_contain_text("−£5.00")
    expect(page.get_by_role("row", name=re.compile(r"Ten off \(TENPC\)"))).to_contain_text("−£5.95")
    expect(page.locator('[data-total="discount"]')).to_have_text(["−£5.00", "−£5.95"])
    expect(page.locator('[data-total="goods"]')).to_have_text("£53.55")
    expect(page.get_by_role("button", name="Remove code FIVER")).to_be_visible()
    expect(page.get_by_role("button", name="Remove code TENPC")).to_be_visible()
    # Free delivery from £75 of goods after the codes: 7500 - 5355 = £21.45 short.
    expect(page.get_by_text("Spend £21.45 more for free United Kingdom delivery.")).to_be_visible()
    page.screenshot(path=str(DOCS_SCREENSHOTS / "cart-codes.png"), full_page=True)
    page.shot("cart")

    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    # £53.55 of goods and £4.95 of delivery: £58.50. VAT inside, per line: jumper 5200 - 883 = 4317,
    # / 6 = 719.5 -> 720; mug 1250 - 212 = 1038, / 6 = 173; delivery 495 / 6 = 82.5 -> 83: £9.76.
    expect(page.locator('[data-total="subtotal"]')).to_have_text("£64.50")
    expect(page.locator('[data-total="discount"]')).to_have_text(["−£5.00", "−£5.95"])
    expect(page.locator('[data-total="delivery"]')).to_have_text("£4.95")
    expect(page.locator('[data-total="total"]')).to_have_text("£58.50")
    expect(page.locator('[data-total="tax"]')).to_have_text("£9.76")
    expect(page.locator('[data-total="sale"]')).to_have_text("£13.00")
    page.shot("checkout")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name="Pay £58.50")).to_be_visible()
    pay(page, GOOD_CARD)

    expect(
        page.get_by_text(re.compile(r"Thank you! Your payment was received and order NW\d+ is confirmed."))
    ).to_be_visible()
    codes = page.locator("tr.discount")
    expect(codes.locator("th")).to_have_text(["Five off (FIVER)", "Ten off (TENPC)"])
    expect(codes.locator("td")).to_have_text(["−£5.00", "−£5.95"])
    sale_row = page.get_by_role("row", name=re.compile("Winter sale: saved at the sale prices above"))
    expect(sale_row.locator("td")).to_have_text("£13.00")
    jumper_row = page.get_by_role("row", name=re.compile("Brora Merino Jumper"))
    expect(jumper_row.locator(".sale-price")).to_have_text("£52.00")
    expect(jumper_row.locator(".was")).to_have_text("was £65.00")
    expect(page.locator("tr.grand").first).to_contain_text("£58.50")
    page.shot("confirmation")

    order = Order.objects.get()
    assert (order.payment_status, order_codes(order), order.discount_total, order.total, order.tax_total) == (
        "paid",
        ("FIVER", "TENPC"),
        1095,
        5850,
        976,
    )
    assert sorted(
        OrderDiscount.objects.filter(order=order).values_list("kind", "code", "name", "amount", "position")
    ) == [
        ("code", "FIVER", "Five off", 500, 0),
        ("code", "TENPC", "Ten off", 595, 1),
        ("sale", "", "Winter sale", 1300, 0),
    ]
    lines = order.lines.order_by("sku")
    assert [
        (line.sku, line.unit_price, line.list_price, line.sale_id, line.discount, line.tax) for line in lines
    ] == [
        ("JUMP-M", 5200, 6500, sale.pk, 883, 720),
        ("MUG", 1250, 1250, None, 212, 173),
    ]
    assert Payment.objects.get(order=order).amount_received == 5850
    assert sorted(CodeUse.objects.filter(order=order).values_list("code__code", "status")) == [
        ("FIVER", "consumed"),
        ("TENPC", "consumed"),
    ]
