"""What shoppers click through, in a real browser against the running shop."""

import re
import time

import httpx
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from catalog.models import Variant
from checkout.models import Cart, CartLine, Order, Payment, WebhookEvent
from inventory.models import Stock
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.flows import (
    DECLINED_CARD,
    GOOD_CARD,
    THREE_D_SECURE_CARD,
    add_to_cart,
    fill_checkout,
    option,
    pass_challenge,
    pay,
)
from tests.factories import UserFactory


def wait_for(condition, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the shop")
        time.sleep(0.1)


def test_guest_buys_from_browsing_to_confirmation(shop, page):
    page.goto(shop.url)
    page.shot("home")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Clothing").click()
    expect(page.get_by_role("heading", name="Clothing", exact=True)).to_be_visible()
    page.get_by_label("In stock only").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".card-title")).to_have_text(["Brora Merino Jumper"])  # the sold-out cardigan is gone
    page.shot("category-filtered")
    page.get_by_role("link", name="Brora Merino Jumper").click()
    expect(page.get_by_text("Out of stock")).to_be_visible()  # size L
    page.get_by_role("radio", name=option("M / Navy")).check()
    page.get_by_label("Quantity").fill("2")
    page.shot("product")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_text("Added to your cart (you now have 2).")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("2")
    page.get_by_label("Quantity of Brora Merino Jumper (M / Navy)").fill("1")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_text("Cart updated.")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("1")
    page.shot("cart")
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page, method="Express delivery")
    # 65.00 + 9.95 express = 74.95, VAT included: 6500*20/120 = 1083.33 -> 1083 and
    # 995*20/120 = 165.83 -> 166, so 12.49
    expect(page.locator('[data-total="delivery"]')).to_have_text("£9.95")
    expect(page.locator('[data-total="total"]')).to_have_text("£74.95")
    expect(page.locator('[data-total="tax"]')).to_have_text("£12.49")
    page.shot("checkout")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name="Pay £74.95")).to_be_visible()
    pay(page, GOOD_CARD)
    page.shot("pay")
    expect(
        page.get_by_text(re.compile(r"Thank you! Your payment was received and order NW\d+ is confirmed."))
    ).to_be_visible()
    expect(page.get_by_text("Status: Paid")).to_be_visible()
    page.shot("confirmation")

    order = Order.objects.get()
    assert (order.payment_status, order.total, order.shipping_method_code) == ("paid", 7495, "express")
    intent = Payment.objects.get(order=order).payment_intent_id
    # localstripe delivers payment_intent.succeeded to the shop about a second later.
    wait_for(
        lambda: WebhookEvent.objects.filter(
            type="payment_intent.succeeded", processed_at__isnull=False, payload__data__object__id=intent
        ).exists()
    )
    assert Stock.objects.get(variant__sku="JUMP-M").on_hand == 7
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert [m.subject for m in mail.outbox] == [f"Your Northwind Supply order {order.number} is confirmed"]


def test_declined_card_then_a_good_one(shop, page):
    add_to_cart(page, shop.url, "enamel-camp-mug", quantity=2)
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()

    pay(page, DECLINED_CARD)
    expect(page.get_by_role("alert")).to_have_text("Your card was declined. Please try another card.")
    page.shot("declined")
    assert Order.objects.get().payment_status == "awaiting"
    pay(page, GOOD_CARD)

    expect(page.get_by_text("Status: Paid")).to_be_visible()
    assert Order.objects.filter(payment_status="paid").count() == 1 and Order.objects.count() == 1


def test_three_d_secure_passed(shop, page):
    add_to_cart(page, shop.url, "enamel-camp-mug")
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, THREE_D_SECURE_CARD)
    page.shot("challenge")
    pass_challenge(page)  # confirming the card
    pass_challenge(page)  # confirming the payment
    expect(page.get_by_text("Status: Paid")).to_be_visible()
    assert Order.objects.get().payment_status == "paid"


def test_three_d_secure_failed_leaves_the_order_payable(shop, page):
    add_to_cart(page, shop.url, "enamel-camp-mug")
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, THREE_D_SECURE_CARD)
    pass_challenge(page)
    pass_challenge(page, succeed=False)

    expect(page.get_by_role("heading", name=re.compile("Pay for order"))).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("another card")
    page.shot("challenge-failed")
    assert Order.objects.get().payment_status == "awaiting"
    pay(page, GOOD_CARD)
    expect(page.get_by_text("Status: Paid")).to_be_visible()


def test_sold_out_while_checking_out(shop, page, e2e_stripe):
    add_to_cart(page, shop.url, "brora-merino-jumper", variant="S / Navy", quantity=3)
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page)
    Stock.objects.filter(variant__sku="JUMP-S").update(on_hand=1)  # someone else bought them meanwhile

    page.get_by_role("button", name="Continue to payment").click()

    expect(
        page.get_by_text(
            re.compile(
                r"only 1 of Brora Merino Jumper \(S / Navy\) left \(you asked for 3\)\. Nothing was charged"
            )
        )
    ).to_be_visible()
    page.shot("sold-out")
    order = Order.objects.get()
    assert order.status == "canceled"
    intents = httpx.get(
        f"{e2e_stripe.url}/v1/payment_intents?limit=100", headers={"Authorization": "Bearer sk_test_suite"}
    ).json()["data"]
    assert [i["status"] for i in intents if i["metadata"].get("order_number") == order.number] == ["canceled"]


def test_guest_cart_merges_at_sign_in_and_the_order_shows_in_the_account(shop, page):
    user = UserFactory(username="ann@example.com", email="ann@example.com")
    account_cart = Cart.objects.create(user=user)  # left from an earlier visit on another device
    CartLine.objects.create(cart=account_cart, variant=Variant.objects.get(sku="MUG"), quantity=1)
    add_to_cart(page, shop.url, "enamel-camp-mug", quantity=2)
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.locator("main").get_by_role("button", name=re.compile("Sign in")).click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    page.goto(f"{shop.url}/cart/")
    expect(page.get_by_label("Quantity of Enamel Camp Mug")).to_have_value("3")
    page.shot("merged-cart")
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_label("E-mail")).to_have_value("ann@example.com")
    fill_checkout(page)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, GOOD_CARD)
    expect(page.get_by_text("Status: Paid")).to_be_visible()
    number = Order.objects.get().number

    page.goto(f"{shop.url}/account/")
    expect(page.get_by_role("link", name=number, exact=True)).to_be_visible()
    page.shot("account-history")


def test_search_from_the_header(shop, page):
    page.goto(shop.url)
    page.get_by_role("searchbox", name="Search products").fill("jumpr")
    page.get_by_role("searchbox", name="Search products").press("Enter")
    expect(page.locator(".card-title")).to_have_text(["Brora Merino Jumper"])
    page.shot("search-results")
    page.get_by_role("searchbox", name="Search products").fill("zeppelin")
    page.get_by_role("searchbox", name="Search products").press("Enter")
    expect(page.get_by_text("Nothing matches “zeppelin”.")).to_be_visible()
    expect(page.get_by_text("Check the spelling")).to_be_visible()
    page.shot("search-empty")


def test_phone_sized_product_and_checkout_are_usable(shop, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{shop.url}/products/brora-merino-jumper/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.get_by_role("radio", name=option("M / Navy")).check()
        button = page.get_by_role("button", name="Add to cart")
        button.scroll_into_view_if_needed()
        expect(button).to_be_in_viewport()
        page.screenshot(path=str(SCREENSHOTS / "phone--product.png"), full_page=True)
        button.tap()
        expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.get_by_role("link", name="Checkout").tap()
        fill_checkout(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        place = page.get_by_role("button", name="Continue to payment")
        place.scroll_into_view_if_needed()
        expect(place).to_be_in_viewport()
        page.screenshot(path=str(SCREENSHOTS / "phone--checkout.png"), full_page=True)
        place.tap()
        expect(page.get_by_role("button", name=re.compile("Pay £"))).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
