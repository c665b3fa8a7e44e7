"""A discount code's order: the discount by name and amount on the order page, in the confirmation
e-mail, on the VAT receipt and its PDF and on the staff's order page, every row adding up; a
refund of a discounted line gives back what was paid for it."""

import re
import secrets
import zlib
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.test import Client

from checkout.models import Cart, Order, OrderTax, Refund
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.factories import (
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    UserFactory,
    order_code_discount,
    order_codes,
)
from tests.helpers import charge_in_stripe, deliver, event, fill_cart, place, run_due_tasks, stripe_api


class _Tables(HTMLParser):
    """Collect each table's rows as lists of their cells' text, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(body: str) -> list[tuple[str, list[list[str]]]]:
    """Return the page's tables in order: (class, rows of cell texts)."""
    parser = _Tables()
    parser.feed(body)
    return parser.tables


def table(body: str, css_class: str) -> list[list[str]]:
    """Return the rows of the one table whose class is `css_class`."""
    found = [rows for classes, rows in tables(body) if classes == css_class]
    assert len(found) == 1, [classes for classes, _rows in tables(body)]
    return found[0]


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def page_bytes(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content


def pdf_text(content: bytes) -> bytes:
    """Return the PDF's streams, inflated, where a core font's text stands as written."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S)
    texts = []
    for stream in streams:
        try:
            texts.append(zlib.decompress(stream))
        except zlib.error:  # a stream left uncompressed
            texts.append(stream)
    return b"\n".join(texts)


def shown(text: str) -> bytes:
    """Return `text` as a core font's PDF string draws it."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped}) Tj".encode("latin-1")


def promotion_code(text: str, **fields) -> DiscountCode:
    return DiscountCode.objects.create(promotion=Promotion.objects.create(**fields), code=text)


def paid_with_code(outside, client, jumper, code_text: str) -> Order:
    """Place an order of one jumper with `code_text` applied in the cart, then pay it in Stripe."""
    fill_cart(client, (jumper, 1))
    applied = client.post("/cart/code/", {"code": code_text.lower(), "next": "/cart/"}, follow=True)
    assert applied.status_code == 200
    assert Cart.objects.get().discount_codes == [code_text]
    response = place(client, Cart.objects.get().version)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    intent = charge_in_stripe(outside, order)
    assert intent["amount"] == order.total
    assert deliver(client, event("payment_intent.succeeded", intent)).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert CodeUse.objects.get(order=order).status == "consumed"
    return order


@pytest.fixture
def staff(transactional_db) -> Client:
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return staff


@pytest.fixture
def ten_off(outside, shipping, client, jumper) -> Order:
    """One jumper at £65.00 with 10 % off (£6.50): £58.50 holds VAT £9.75 (5850 / 6), net £48.75;
    standard delivery £4.95 (the goods now under £75) holds 82.5p, rounded up to 83p, net £4.12.
    Total £63.45, VAT £10.58."""
    promotion_code("SAVE10", name="Ten off", reward="percent", percent=Decimal(10))
    order = paid_with_code(outside, client, jumper, "SAVE10")
    assert order_codes(order) == ("SAVE10",) and order.discount_total == 650
    assert order.discounts.get().name == "Ten off"
    assert (order.total, order.tax_total, order.shipping_total, order.shipping_tax) == (6345, 1058, 412, 83)
    assert [(line.line_total, line.discount, line.net, line.tax) for line in order.lines.all()] == [
        (6500, 650, 4875, 975)
    ]
    return order


# The order's lines and totals as the order page and the staff's order page list them.
TEN_OFF_LINES = [
    ["Item", "Qty", "Price", "Total"],
    ["Merino Jumper (M) JUMP-M Ten off (SAVE10): −£6.50", "1", "£65.00", "£65.00"],
    ["Subtotal (goods, gross)", "£65.00"],
    ["Ten off (SAVE10)", "−£6.50"],
    ["Delivery (Standard)", "£4.95"],
    ["Total", "£63.45"],
    ["Includes VAT", "£10.58"],
]


def test_the_order_page_lists_the_discount_between_the_subtotal_and_delivery(client, ten_off):
    body = page(client, f"/order/{ten_off.public_token}/")

    assert table(body, "summary") == TEN_OFF_LINES
    assert table(body, "summary vat-lines") == [
        ["Item", "Discount", "Net", "VAT rate", "VAT", "Gross"],
        ["1 × Merino Jumper (M)", "−£6.50", "£48.75", "20%", "£9.75", "£58.50"],
        ["Delivery (Standard)", "—", "£4.12", "20%", "£0.83", "£4.95"],
    ]
    assert table(body, "summary vat-rates") == [
        ["Rate", "Net", "VAT", "Gross"],
        ["20%", "£52.87", "£10.58", "£63.45"],
        ["Total", "£52.87", "£10.58", "£63.45"],
    ]
    assert "VAT is charged on the prices after Ten off (SAVE10)." in body


def test_the_confirmation_email_shows_the_discount_and_the_vat_after_it(client, ten_off):
    run_due_tasks()

    assert len(mail.outbox) == 1
    text = mail.outbox[0].body
    assert (
        "1 × Merino Jumper (M)  £65.00\n"
        "    less Ten off (SAVE10) −£6.50\n"
        "    £48.75 net + VAT at 20% £9.75 = £58.50\n"
        "Delivery (Standard)  £4.95\n"
        "    £4.12 net + VAT at 20% £0.83 = £4.95\n"
    ) in text
    assert (
        "Subtotal (goods, gross): £65.00\nTen off (SAVE10): −£6.50\nDelivery (Standard): £4.95\n"
        "Total paid: £63.45\nIncludes VAT £10.58\n"
    ) in text
    assert "VAT by rate:\nVAT at 20%: £10.58 on £52.87 net\n" in text
    html = mail.outbox[0].alternatives[0].content
    totals, vat = (rows for _classes, rows in tables(html))
    assert totals == [
        ["1 × Merino Jumper (M) £65.00 each · Ten off (SAVE10): −£6.50", "£65.00"],
        ["Subtotal (goods, gross)", "£65.00"],
        ["Ten off (SAVE10)", "−£6.50"],
        ["Delivery (Standard)", "£4.95"],
        ["Total paid", "£63.45"],
        ["Includes VAT", "£10.58"],
    ]
    assert vat == [
        ["Item", "Discount", "Net", "Rate", "VAT", "Gross"],
        ["1 × Merino Jumper (M)", "−£6.50", "£48.75", "20%", "£9.75", "£58.50"],
        ["Delivery (Standard)", "—", "£4.12", "20%", "£0.83", "£4.95"],
        ["VAT at 20%", "", "£52.87", "", "£10.58", "£63.45"],
        ["Total", "", "£52.87", "", "£10.58", "£63.45"],
    ]


def test_the_receipt_page_and_pdf_take_the_discount_off_each_line_before_vat(client, ten_off):
    body = page(client, f"/order/{ten_off.public_token}/receipt/")

    assert table(body, "receipt-table receipt-lines") == [
        ["Item", "Qty", "Unit price (gross)", "Discount", "Net", "VAT rate", "VAT", "Gross"],
        ["Merino Jumper (M) JUMP-M", "1", "£65.00", "−£6.50", "£48.75", "20%", "£9.75", "£58.50"],
        ["Delivery (Standard)", "1", "£4.95", "—", "£4.12", "20%", "£0.83", "£4.95"],
        ["Discount: Ten off (SAVE10)", "−£6.50", ""],
        ["Total", "£52.87", "", "£10.58", "£63.45"],
    ]
    assert table(body, "receipt-table receipt-rates")[1:] == [
        ["20%", "£52.87", "£10.58", "£63.45"],
        ["Total", "£52.87", "£10.58", "£63.45"],
    ]
    assert "<strong>Total paid: £63.45</strong><br>Paid by card" in body
    assert "The discount was taken off before VAT: net, VAT and gross are what was charged." in body

    response = client.get(f"/order/{ten_off.public_token}/receipt.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = pdf_text(response.content)
    assert b"(Discount) Tj" in pdf
    assert pdf.count(shown("-£6.50")) == 2  # the jumper's row and the discount's
    assert shown("Discount: Ten off (SAVE10)") in pdf
    for amount in ("£65.00", "£48.75", "£9.75", "£58.50", "£4.12", "£0.83", "£52.87", "£10.58"):
        assert shown(amount) in pdf, amount
    assert shown("Total paid: £63.45") in pdf


def test_the_staff_order_page_lists_the_discount_and_a_line_refund_gives_back_what_was_paid(
    staff, outside, client, ten_off
):
    body = page(staff, f"/dashboard/orders/{ten_off.number}/")
    assert table(body, "summary") == TEN_OFF_LINES
    assert "(1 bought, £58.50 in all)" in body  # the refund form offers the line at what was paid

    line = ten_off.lines.get()
    response = staff.post(
        f"/dashboard/orders/{ten_off.number}/refund/",
        {"amount": "", "reason": "damaged", "request_key": secrets.token_hex(8), f"line-{line.pk}": "1"},
        follow=True,
    )

    assert response.status_code == 200
    assert f"Refunded £58.50 (of which VAT £9.75) on order {ten_off.number}." in response.content.decode()
    made = Refund.objects.get()
    assert (made.amount, made.tax, made.status) == (5850, 975, Refund.Status.SUCCEEDED)
    assert [(part.order_line, part.quantity, part.amount, part.tax) for part in made.lines.all()] == [
        (line, 1, 5850, 975)
    ]
    assert stripe_api(outside, "GET", f"refunds/{made.stripe_refund_id}")["amount"] == 5850
    ten_off.refresh_from_db()
    assert ten_off.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    receipt = page(client, f"/order/{ten_off.public_token}/receipt/")
    assert table(receipt, "receipt-table receipt-refunds")[-1] == ["Total after refunds", "£4.95", "£0.83"]


def test_a_free_delivery_code_shows_delivery_at_its_price_and_takes_it_off(outside, shipping, client, jumper):
    promotion_code("SHIPFREE", name="Free delivery", reward="free_delivery")
    order = paid_with_code(outside, client, jumper, "SHIPFREE")
    # The jumper as priced, £65.00 holding VAT £10.83; delivery's £4.95 all taken off.
    assert (order.discount_total, order.total, order.tax_total, order.shipping_total, order.shipping_tax) == (
        495,
        6500,
        1083,
        0,
        0,
    )

    body = page(client, f"/order/{order.public_token}/")
    assert table(body, "summary") == [
        ["Item", "Qty", "Price", "Total"],
        ["Merino Jumper (M) JUMP-M", "1", "£65.00", "£65.00"],
        ["Subtotal (goods, gross)", "£65.00"],
        ["Free delivery (SHIPFREE)", "−£4.95"],
        ["Delivery (Standard)", "£4.95"],
        ["Total", "£65.00"],
        ["Includes VAT", "£10.83"],
    ]
    assert table(body, "summary vat-lines")[1:] == [
        ["1 × Merino Jumper (M)", "—", "£54.17", "20%", "£10.83", "£65.00"],
        ["Delivery (Standard)", "−£4.95", "£0.00", "—", "£0.00", "£0.00"],
    ]

    run_due_tasks()
    text = mail.outbox[0].body
    assert "Delivery (Standard)  £4.95\n    less Free delivery (SHIPFREE) −£4.95\n" in text
    assert (
        "Subtotal (goods, gross): £65.00\nFree delivery (SHIPFREE): −£4.95\nDelivery (Standard): £4.95\n"
        "Total paid: £65.00\nIncludes VAT £10.83\n"
    ) in text

    receipt = page(client, f"/order/{order.public_token}/receipt/")
    assert table(receipt, "receipt-table receipt-lines")[1:] == [
        ["Merino Jumper (M) JUMP-M", "1", "£65.00", "—", "£54.17", "20%", "£10.83", "£65.00"],
        ["Delivery (Standard)", "1", "£4.95", "−£4.95", "£0.00", "—", "£0.00", "£0.00"],
        ["Discount: Free delivery (SHIPFREE)", "−£4.95", ""],
        ["Total", "£54.17", "", "£10.83", "£65.00"],
    ]
    pdf = pdf_text(page_bytes(client, f"/order/{order.public_token}/receipt.pdf"))
    assert pdf.count(shown("-£4.95")) == 2 and shown("Discount: Free delivery (SHIPFREE)") in pdf
    assert shown("Total paid: £65.00") in pdf


def test_an_order_without_a_code_shows_no_discount(client, order):
    body = page(client, f"/order/{order.public_token}/")

    assert table(body, "summary")[1:] == [
        ["Merino Jumper (M) JUMP-M", "1", "£65.00", "£65.00"],
        ["Subtotal (goods, gross)", "£65.00"],
        ["Delivery (Standard)", "£4.95"],
        ["Total", "£69.95"],
        ["Includes VAT", "£11.66"],
    ]
    assert table(body, "summary vat-lines")[0] == ["Item", "Net", "VAT rate", "VAT", "Gross"]
    assert "Discount" not in body and "is charged on the prices after" not in body


@pytest.mark.django_db
def test_an_order_priced_before_vat_takes_the_discount_off_the_net_then_adds_vat(client):
    # Two lamps at £25.00 net, 10 % off: £45.00 net, VAT £9.00; delivery £5.00 net, VAT £1.00.
    order = OrderFactory(
        prices_include_tax=False,
        subtotal=4500,
        shipping_total=500,
        shipping_tax=100,
        tax_total=1000,
        total=6000,
        discount_total=500,
    )
    order_code_discount(order, code="SAVE10", name="Ten off", amount=500)
    OrderLineFactory(order=order, product_title="Desk Lamp", sku="LAMP", unit_price=2500, quantity=2,
                     net=4500, tax=900, tax_rate=Decimal("20"), discount=500)  # fmt: skip
    OrderTax.objects.create(order=order, rate=Decimal("20"), net=5000, tax=1000)
    PaymentFactory(order=order)

    body = page(client, f"/order/{order.public_token}/")
    assert table(body, "summary")[1:] == [
        ["Desk Lamp LAMP Ten off (SAVE10): −£5.00", "2", "£25.00", "£50.00"],
        ["Subtotal", "£50.00"],
        ["Ten off (SAVE10)", "−£5.00"],
        ["Delivery (Standard)", "£5.00"],
        ["VAT", "£10.00"],
        ["Total", "£60.00"],
    ]
    receipt = page(client, f"/order/{order.public_token}/receipt/")
    assert table(receipt, "receipt-table receipt-lines") == [
        ["Item", "Qty", "Unit price (net)", "Discount", "Net", "VAT rate", "VAT", "Gross"],
        ["Desk Lamp LAMP", "2", "£25.00", "−£5.00", "£45.00", "20%", "£9.00", "£54.00"],
        ["Delivery (Standard)", "1", "£5.00", "—", "£5.00", "20%", "£1.00", "£6.00"],
        ["Discount: Ten off (SAVE10)", "−£5.00", ""],
        ["Total", "£50.00", "", "£10.00", "£60.00"],
    ]


@pytest.mark.django_db
def test_with_a_free_delivery_code_the_cart_asks_for_no_more_spending(shipping, client, jumper):
    # Free delivery starts at £75; one jumper is £65.00, £10.00 short, until the code is applied.
    fill_cart(client, (jumper, 1))
    assert "Spend £10.00 more for free United Kingdom delivery." in page(client, "/cart/")
    promotion_code("SHIPFREE", name="Free delivery", reward="free_delivery")
    applied = client.post("/cart/code/", {"code": "shipfree", "next": "/cart/"}, follow=True)
    body = applied.content.decode()
    assert "Free delivery: free delivery." in body
    assert "more for free" not in body


@pytest.mark.django_db
def test_each_code_has_its_row_and_a_line_names_only_the_codes_that_took_off_it(client):
    # A £20.00 lamp (VAT £3.33 in it) with £2.00 off by FIVER... and delivery's £3.95 off by SHIP.
    order = OrderFactory(subtotal=1500, shipping_total=0, tax_total=300, total=1800, discount_total=595)
    OrderLineFactory(order=order, product_title="Desk Lamp", sku="LAMP", unit_price=2000, quantity=1,
                     net=1500, tax=300, tax_rate=Decimal("20"), discount=200)  # fmt: skip
    OrderTax.objects.create(order=order, rate=Decimal("20"), net=1500, tax=300)
    order_code_discount(order, code="TWO", name="Two off", amount=200)
    order_code_discount(order, code="SHIP", name="Free delivery", amount=395, delivery=395)
    PaymentFactory(order=order)

    rows = table(page(client, f"/order/{order.public_token}/"), "summary")
    assert rows[1] == ["Desk Lamp LAMP Two off (TWO): −£2.00", "1", "£20.00", "£20.00"]
    assert ["Two off (TWO)", "−£2.00"] in rows and ["Free delivery (SHIP)", "−£3.95"] in rows
