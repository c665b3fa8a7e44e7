"""What staff click through on the dashboard, in a real browser against the running shop."""

import re

from django.core import mail
from django.core.management import call_command
from playwright.sync_api import Page, expect

from checkout.models import Order, Refund
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.flows import GOOD_CARD, add_to_cart, fill_checkout, pay
from tests.factories import UserFactory


def buy(page: Page, base: str, slug: str, email: str, variant: str | None = None) -> str:
    add_to_cart(page, base, slug, variant=variant)
    page.get_by_role("link", name="Checkout").click()
    fill_checkout(page, email=email)
    page.get_by_role("button", name="Continue to payment").click()
    pay(page, GOOD_CARD)
    expect(page.get_by_text("Status: Paid")).to_be_visible()
    return re.search(r"Order (NW\d+)", page.locator("h1").inner_text()).group(1)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.locator("main").get_by_role("button", name=re.compile("Sign in")).click()


def test_staff_ship_one_order_and_refund_part_of_another(shop, page, chromium):
    first = buy(page, shop.url, "enamel-camp-mug", "ann@example.com")
    second = buy(page, shop.url, "brora-merino-jumper", "bob@example.com", variant="M / Navy")
    UserFactory(username="sam@example.com", email="sam@example.com", is_staff=True)
    staff = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()

    sign_in(staff, shop.url, "sam@example.com")
    staff.get_by_role("link", name="Dashboard").click()
    expect(staff.get_by_role("heading", name="Waiting to ship (2)")).to_be_visible()
    staff.screenshot(path=str(SCREENSHOTS / "staff--dashboard.png"), full_page=True)
    staff.get_by_role("link", name=first, exact=True).first.click()
    staff.get_by_label("Carrier").fill("Royal Mail")
    staff.get_by_label("Tracking number").fill("RM123456789GB")
    staff.get_by_role("button", name="Mark shipped and e-mail the customer").click()
    expect(staff.get_by_text(f"Order {first} marked shipped")).to_be_visible()
    expect(staff.locator("h1")).to_contain_text("Shipped")
    staff.screenshot(path=str(SCREENSHOTS / "staff--shipped.png"), full_page=True)

    staff.goto(f"{shop.url}/dashboard/orders/?q={second}")
    staff.get_by_role("link", name=second, exact=True).click()
    staff.get_by_label(re.compile(r"Amount \(GBP")).fill("10.00")
    staff.get_by_label("Reason", exact=True).first.fill("Pulled thread")
    staff.get_by_role("button", name="Refund through Stripe").click()
    # £10.00 of £69.95 (jumper and delivery) with £11.66 VAT in it: 1000 × 1166 / 6995 = 166.69 -> £1.67.
    expect(staff.get_by_text(f"Refunded £10.00 (of which VAT £1.67) on order {second}.")).to_be_visible()
    expect(staff.locator("h1")).to_contain_text("Partially refunded")
    staff.screenshot(path=str(SCREENSHOTS / "staff--refunded.png"), full_page=True)

    assert Order.objects.get(number=first).tracking_number == "RM123456789GB"
    refunded = Order.objects.get(number=second)
    assert (refunded.status, refunded.payment_status, refunded.fulfilment_status) == (
        "open",
        "partially_refunded",
        "unfulfilled",
    )
    assert (Refund.objects.get().amount, Refund.objects.get().tax) == (1000, 167)
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    assert any(m.subject == f"Your Northwind Supply order {first} is on its way" for m in mail.outbox)


def test_a_customer_cannot_open_the_dashboard(shop, page):
    UserFactory(username="ann@example.com", email="ann@example.com")
    sign_in(page, shop.url, "ann@example.com")
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    response = page.goto(f"{shop.url}/dashboard/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You can’t open this page")).to_be_visible()
    page.shot("customer-403")
