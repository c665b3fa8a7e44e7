"""A catalogue editor builds a product in a real browser: a product with two axes, its variants
made from its type and priced as money, two pictures uploaded and tied to their colours, then
published; a shopper finds it, picks a colour and a size (the picture and price follow) and buys
it. Also the import's preview, looked at."""

import io
import os
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from accounts.roles import CATALOGUE
from catalog.models import OptionAxis, OptionValue, Product, ProductType
from checkout.models import Order
from tests.e2e.flows import GOOD_CARD, fill_checkout, pay
from tests.e2e.test_staff import sign_in
from tests.factories import UserFactory
from tests.helpers import run_due_tasks

DOCS_SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("SHOP_DOCS_SCREENSHOTS")
    else Path(__file__).resolve().parent / "screenshots"
)


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (900, 900), colour).save(out, format="PNG")
    return out.getvalue()


def test_staff_build_a_product_with_two_axes_and_a_shopper_buys_the_one_they_pick(
    shop, page, chromium, tmp_path
):
    kind = ProductType.objects.create(name="Hats", slug="hats")
    size = OptionAxis.objects.create(product_type=kind, name="size", label="Size", position=0)
    colour = OptionAxis.objects.create(
        product_type=kind, name="colour", label="Colour", is_colour=True, position=1
    )
    for position, value in enumerate(["S", "M"]):
        OptionValue.objects.create(axis=size, value=value, position=position)
    OptionValue.objects.create(axis=colour, value="Navy", swatch="#1f2d5a", position=0)
    OptionValue.objects.create(axis=colour, value="Rust", swatch="#b7410e", position=1)
    UserFactory(username="cat@example.com", email="cat@example.com", is_staff=True, roles=[CATALOGUE])
    staff = chromium.new_context(viewport={"width": 1366, "height": 900}).new_page()
    sign_in(staff, shop.url, "cat@example.com")

    staff.goto(f"{shop.url}/dashboard/products/add/")
    staff.get_by_label("Title", exact=True).fill("Fell Beanie")
    staff.get_by_label("Category").select_option(label="Knitwear")
    staff.get_by_label("Product type").select_option(label="Hats")
    staff.get_by_label("Published (shown in the shop)").check()
    staff.get_by_role("button", name="Save product").click()
    expect(staff.get_by_text("Fell Beanie saved.")).to_be_visible()
    staff.get_by_role("button", name="Make every variant its type allows").click()
    expect(staff.get_by_text("4 variants made, not yet sold")).to_be_visible()

    # Each made variant at £18.00 with 5 in stock; M in Rust is left unsold.
    rows = staff.locator("table.variant-table tbody tr")
    expect(rows).to_have_count(4)
    for index in range(4):
        row = rows.nth(index)
        label = row.locator("th").inner_text()
        row.get_by_label("Price").fill("£18.00")
        row.get_by_label("On hand").fill("5")
        if "M / Rust" not in label:
            row.get_by_label("Sold").check()
    staff.get_by_role("button", name="Save product").click()
    expect(staff.get_by_text("Fell Beanie saved.")).to_be_visible()

    navy, rust = tmp_path / "navy.png", tmp_path / "rust.png"
    navy.write_bytes(png("#1f2d5a"))
    rust.write_bytes(png("#b7410e"))
    staff.locator("#picture-files").set_input_files([str(navy), str(rust)])  # sent as soon as chosen
    expect(staff.get_by_text("2 pictures added.")).to_be_visible()
    pictures = staff.locator(".picture-list li")
    for index, name in enumerate(["Navy", "Rust"]):
        pictures.nth(index).get_by_label("Alt text").fill(f"Fell Beanie in {name}")
        pictures.nth(index).get_by_label("Colour").select_option(label=name)
        pictures.nth(index).get_by_role("button", name="Save").click()
        expect(staff.get_by_text("Picture saved.")).to_be_visible()
        pictures = staff.locator(".picture-list li")
    staff.screenshot(path=str(DOCS_SCREENSHOTS / "product-editor.png"), full_page=True)

    page.goto(f"{shop.url}/category/knitwear/")
    page.get_by_role("link", name=re.compile("Fell Beanie")).click()
    expect(page.locator("[data-picker-price]")).to_contain_text("£18.00")
    expect(page.locator("svg.swatch")).to_have_count(2)  # the type's swatches, Navy and Rust
    page.get_by_text("Rust", exact=True).click()
    expect(page.locator(".gallery img").first).to_have_attribute("alt", "Fell Beanie in Rust")
    expect(page.locator(".gallery img").first).to_have_attribute("srcset", re.compile(r"-w300\.webp 300w"))
    page.get_by_text("M", exact=True).click()
    expect(page.locator("[data-picker-stock]")).to_have_text("Not made in this combination: choose another.")
    page.get_by_text("S", exact=True).click()
    expect(page.locator("[data-picker-stock]")).to_have_text("Only 5 left")
    page.screenshot(path=str(DOCS_SCREENSHOTS / "product-picker.png"), full_page=False)
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, GOOD_CARD)
    expect(page.get_by_text("Status: Paid")).to_be_visible()

    product = Product.objects.get(title="Fell Beanie")
    line = Order.objects.get().lines.get()
    assert (line.sku, line.unit_price, line.variant.options) == (
        line.variant.sku,
        1800,
        {"size": "S", "colour": "Rust"},
    )
    assert line.variant.product_id == product.pk

    # The import's preview of a file with one good and one bad product, looked at.
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(
        "Handle,Title,Category,Variant SKU,Variant Price,Variant Inventory Qty\n"
        "camp-kettle,Camp Kettle,kitchen,KETTLE,34.00,12\n"
        "odd,Odd,kitchen,ODD,ten,1\n",
        encoding="utf-8",
    )
    staff.goto(f"{shop.url}/dashboard/products/import/")
    staff.get_by_label("CSV file").set_input_files(str(catalogue))
    staff.get_by_role("button", name="Check the file").click()
    expect(staff.get_by_role("heading", name="catalogue.csv")).to_be_visible()
    run_due_tasks()  # the check, as the shop's task worker runs it
    staff.reload()
    expect(staff.get_by_text("It would import: 1 new, 0 changed, 0 unchanged, 1 refused.")).to_be_visible()
    expect(staff.get_by_text("Variant Price “ten” is not an amount of money (e.g. 24.99).")).to_be_visible()
    staff.screenshot(path=str(DOCS_SCREENSHOTS / "import-preview.png"), full_page=True)
