"""Steps a shopper takes, shared by the browser tests."""

import re

from playwright.sync_api import Page, expect

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_D_SECURE_CARD = "4000002500003155"


def option(text: str) -> re.Pattern:
    """Return a pattern matching a variant's label, e.g. 'M / Navy' (Playwright needs '/' escaped)."""
    return re.compile(re.escape(text).replace("/", "\\/"))


def add_to_cart(page: Page, base: str, slug: str, *, variant: str | None = None, quantity: int = 1) -> None:
    page.goto(f"{base}/products/{slug}/")
    if variant:
        page.get_by_role("radio", name=option(variant)).check()
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()


def fill_checkout(page: Page, *, email: str = "ann@example.com", method: str = "Standard delivery") -> None:
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Full name").fill("Ann Walker")
    page.get_by_label("Address line 1").fill("1 High Street")
    page.get_by_label("City").fill("Kendal")
    page.get_by_label("Postcode").fill("la9 4dt")
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("radio", name=re.compile(method)).check()


def enter_card(page: Page, number: str) -> None:
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("42424")


def pay(page: Page, number: str) -> None:
    expect(page.get_by_role("heading", name=re.compile("Pay for order"))).to_be_visible()
    enter_card(page, number)
    page.locator("#pay-button").click()


def pass_challenge(page: Page, *, succeed: bool = True) -> None:
    page.get_by_role("button", name="Complete authentication" if succeed else "Fail authentication").click()
