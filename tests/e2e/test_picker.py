"""A shopper picks a colour and a size in a real browser: the price, the stock and the picture
follow each choice in place, the URL keeps it, a sold-out choice cannot be added, and the
variant chosen is the one bought."""

import re

from playwright.sync_api import expect

from catalog.models import OptionValue, Product, ProductImage
from catalog.services import product_options_sync
from checkout.models import Order
from tests.e2e.flows import GOOD_CARD, fill_checkout, pay
from tests.factories import StockFactory, VariantFactory


def test_the_price_stock_and_picture_follow_the_choice_and_that_variant_is_bought(shop, page):
    jumper = Product.objects.get(slug="brora-merino-jumper")  # S, M and L in Navy at £65.00; L sold out
    for size, on_hand in [("S", 3), ("M", 0)]:
        variant = VariantFactory(
            product=jumper, sku=f"JUMP-{size}-RUST", options={"size": size, "colour": "Rust"}, price=6900
        )
        StockFactory(variant=variant, on_hand=on_hand)
    product_options_sync(product_id=jumper.pk)
    jumper.refresh_from_db()
    for colour in ("Navy", "Rust"):
        ProductImage.objects.create(
            product=jumper,
            image=f"products/jumper-{colour.lower()}.png",
            alt_text=f"Merino jumper in {colour}",
            colour=OptionValue.objects.get(axis__product_type=jumper.product_type, value=colour),
        )

    page.goto(f"{shop.url}/products/brora-merino-jumper/")
    price, stock = page.locator("[data-picker-price]"), page.locator("[data-picker-stock]")
    add = page.get_by_role("button", name="Add to cart")
    # The first choice in stock is S / Navy.
    expect(page.get_by_role("radio", name="S", exact=True)).to_be_checked()
    expect(page.get_by_role("radio", name="Navy")).to_be_checked()
    expect(price).to_contain_text("£65.00")
    expect(page.locator(".gallery img").first).to_have_attribute("alt", "Merino jumper in Navy")

    page.get_by_text("Rust", exact=True).click()
    expect(price).to_contain_text("£69.00")
    expect(stock).to_have_text("Only 3 left")
    expect(page.locator(".gallery img").first).to_have_attribute("alt", "Merino jumper in Rust")
    expect(page).to_have_url(re.compile(r"\?size=s&colour=rust$"))
    # In Rust, M is sold out and L is not made: both struck through, still choosable.
    expect(page.locator("label.picker-value.sold-out", has_text="M")).to_be_visible()
    page.get_by_text("M", exact=True).click()
    expect(stock).to_have_text("Sold out in this choice")
    expect(add).to_be_disabled()
    page.get_by_text("L", exact=True).click()
    expect(stock).to_have_text("Not made in this combination: choose another.")
    expect(price).to_contain_text("from £65.00")  # no price of its own: the lowest
    expect(add).to_be_disabled()
    page.shot("not-made")

    page.get_by_text("S", exact=True).click()
    expect(add).to_be_enabled()
    page.shot("picked")
    # The URL keeps the choice: opened again, the page shows it.
    page.goto(page.url)
    expect(page.get_by_role("radio", name="Rust")).to_be_checked()
    expect(stock).to_have_text("Only 3 left")
    add.click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(page.locator(".cart-item")).to_contain_text("S / Rust")
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, GOOD_CARD)
    expect(page.get_by_text("Thank you — we have your payment")).to_be_visible()

    line = Order.objects.get().lines.get()
    assert (line.sku, line.unit_price, line.quantity) == ("JUMP-S-RUST", 6900, 1)


def test_on_a_phone_the_products_come_first_and_the_filters_open_from_a_button(shop, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{shop.url}/category/clothing/")
        toggle = page.locator("summary.filter-toggle")
        expect(toggle).to_have_text("Filter · 2 products")
        expect(page.get_by_label("In stock only")).to_be_hidden()  # closed: the products come first
        expect(page.locator(".card").first).to_be_in_viewport()
        toggle.click()
        page.get_by_label("In stock only").check()
        page.get_by_role("button", name="Apply filters").click()
        expect(page).to_have_url(re.compile(r"in_stock=1"))
        expect(page.locator("summary.filter-toggle")).to_have_text("Filter · 1 product")
        expect(page.locator(".card")).to_have_count(1)
    finally:
        context.close()
