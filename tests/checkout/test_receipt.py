"""The VAT receipt: on the order page, in the confirmation e-mail, as a page to print and as a PDF."""

import re
import zlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone

from checkout.models import Order, OrderTax, Refund
from tests.factories import OrderFactory, OrderLineFactory, PaymentFactory, RefundFactory, UserFactory
from tests.helpers import charge_in_stripe, deliver, event, order_states, run_due_tasks


def cells(*values: str) -> str:
    return "".join(f'<td class="num">{value}</td>' for value in values)


# The `order` fixture: one jumper at £65.00 and standard delivery at £4.95, both at 20 % VAT
# inside the price: £65.00 holds £10.83 (net £54.17), £4.95 holds £0.83 (82.5p, rounded up).
JUMPER = cells("£54.17", "20%", "£10.83", "£65.00")
DELIVERY = cells("£4.12", "20%", "£0.83", "£4.95")
AT_20 = f"<tr><td>20%</td>{cells('£58.29', '£11.66', '£69.95')}</tr>"


@pytest.fixture
def paid(outside, client, order) -> Order:
    """The `order` fixture paid in Stripe, the succeeded event applied."""
    intent = charge_in_stripe(outside, order)
    assert deliver(client, event("payment_intent.succeeded", intent)).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.paid_at is not None
    return order


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def pdf_text(content: bytes) -> bytes:
    """Return the PDF's streams, inflated, where a core font's text stands as written."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S)
    return b"\n".join(_inflated(stream) for stream in streams)


def _inflated(stream: bytes) -> bytes:
    try:
        return zlib.decompress(stream)
    except zlib.error:  # a stream left uncompressed
        return stream


def test_the_order_page_shows_the_vat_in_each_line_the_delivery_and_the_total(client, paid):
    body = page(client, f"/order/{paid.public_token}/")

    assert '<th colspan="3">Subtotal (goods, gross)</th><td class="num">£65.00</td>' in body
    assert '<th colspan="3">Delivery (Standard)</th><td class="num">£4.95</td>' in body
    assert '<tr class="grand"><th colspan="3">Total</th><td class="num">£69.95</td></tr>' in body
    assert '<tr class="muted"><th colspan="3">Includes VAT</th><td class="num">£11.66</td></tr>' in body
    assert f"<tr><td>1 × Merino Jumper (M)</td>{JUMPER}</tr>" in body
    assert f"<tr><td>Delivery (Standard)</td>{DELIVERY}</tr>" in body
    assert AT_20 in body
    assert (
        '<tr class="grand"><th>Total</th><td class="num">£58.29</td><td class="num">£11.66</td>'
        '<td class="num">£69.95</td></tr>'
    ) in body
    assert f'href="/order/{paid.public_token}/receipt/">VAT receipt</a>' in body
    assert f'href="/order/{paid.public_token}/receipt.pdf" download>Download receipt (PDF)</a>' in body


def test_the_confirmation_email_is_a_vat_receipt(client, paid):
    run_due_tasks()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    text = message.body
    assert "1 × Merino Jumper (M)  £65.00\n    £54.17 net + VAT at 20% £10.83 = £65.00\n" in text
    assert "Delivery (Standard)  £4.95\n    £4.12 net + VAT at 20% £0.83 = £4.95\n" in text
    assert (
        "Subtotal (goods, gross): £65.00\nDelivery (Standard): £4.95\n"
        "Total paid: £69.95\nIncludes VAT £11.66\n"
    ) in text
    assert "VAT by rate:\nVAT at 20%: £11.66 on £58.29 net\n" in text
    assert "Sold by Northwind Supply Ltd, 1 Harbour Street, Bristol BS1 4AA, United Kingdom\n" in text
    assert "VAT number: GB 123 4567 89\n" in text
    receipt_url = f"http://127.0.0.1:8000/order/{paid.public_token}/receipt/"
    assert f"Your VAT receipt, to print or keep: {receipt_url}\n" in text
    html = message.alternatives[0].content
    assert f'<a href="{receipt_url}">Your VAT receipt</a>' in html
    assert "VAT number: GB 123 4567 89" in html and "Sold by Northwind Supply Ltd" in html
    assert ">£54.17</td>" in html and ">£10.83</td>" in html and ">£11.66</strong></td>" in html
    assert '<strong>Total paid</strong></td><td style="text-align: right;"><strong>£69.95</strong>' in html


def test_the_receipt_page_has_seller_buyer_lines_rates_and_payment(client, paid):
    response = client.get(f"/order/{paid.public_token}/receipt/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "<h1>VAT receipt</h1>" in body
    assert '<link rel="stylesheet" href="/static/css/receipt.css">' in body
    assert "<strong>Northwind Supply Ltd</strong><br>" in body
    assert "1 Harbour Street<br>Bristol BS1 4AA<br>United Kingdom<br>" in body
    assert "VAT number: GB 123 4567 89" in body
    assert f"<dt>Receipt number</dt><dd>{paid.number}</dd>" in body
    paid_on = dateformat.format(timezone.localtime(paid.paid_at), "j F Y")
    assert f"<dt>Date of payment</dt><dd>{paid_on}</dd>" in body
    assert "<address>Ann Walker<br>1 High Street<br>Kendal LA9 4DT<br>United Kingdom</address>" in body
    assert (
        '<td>Merino Jumper (M)<br><span class="muted">JUMP-M</span></td><td class="num">1</td>'
        f'<td class="num">£65.00</td>{JUMPER}'
    ) in body
    delivery = f'<tr class="delivery"><td>Delivery (Standard)</td>{cells("1", "£4.95")}{DELIVERY}</tr>'
    assert delivery in body
    assert AT_20 in body
    assert "<strong>Total paid: £69.95</strong><br>Paid by card" in body
    assert "Unit price (gross)" in body and "Prices include VAT." in body


def test_the_receipt_pdf_is_an_attachment_with_the_number_and_total(client, paid):
    response = client.get(f"/order/{paid.public_token}/receipt.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{paid.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert f"(Receipt number: {paid.number}) Tj".encode() in text
    assert "(Total paid: £69.95) Tj".encode("latin-1") in text
    assert b"(VAT number: GB 123 4567 89) Tj" in text
    assert "(£54.17) Tj".encode("latin-1") in text and "(£0.83) Tj".encode("latin-1") in text
    assert b"(Paid by card) Tj" in text


@pytest.mark.parametrize("suffix", ["receipt/", "receipt.pdf"])
def test_an_unpaid_order_has_no_receipt_yet(client, order, suffix):
    response = client.get(f"/order/{order.public_token}/{suffix}")

    assert response.status_code == 302
    assert response["Location"] == f"/order/{order.public_token}/"
    body = page(client, response["Location"])
    assert "Your VAT receipt will be ready here once your payment has been received." in body
    assert "Pay £69.95" in body
    assert "/receipt/" not in body and "receipt.pdf" not in body
    assert f"<tr><td>1 × Merino Jumper (M)</td>{JUMPER}</tr>" in body  # the VAT is shown all the same


@pytest.mark.django_db
def test_an_order_canceled_before_payment_never_has_a_receipt(client):
    order = OrderFactory(**order_states("canceled"))

    response = client.get(f"/order/{order.public_token}/receipt/", follow=True)

    assert response.redirect_chain == [(f"/order/{order.public_token}/", 302)]
    assert response.status_code == 200
    assert (
        "This order was canceled before it was paid, so it has no VAT receipt." in response.content.decode()
    )


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["receipt/", "receipt.pdf"])
def test_a_stranger_finds_no_receipt(client, suffix):
    order = PaymentFactory().order
    wrong = order.public_token[:-4] + ("AAAA" if not order.public_token.endswith("AAAA") else "BBBB")

    response = client.get(f"/order/{wrong}/{suffix}")

    assert response.status_code == 404
    assert "We couldn’t find that page" in response.content.decode()


@pytest.mark.django_db
def test_a_receipt_of_an_account_order_is_for_its_owner_only(client):
    owner = UserFactory()
    order = PaymentFactory(order=OrderFactory(user=owner)).order
    client.force_login(UserFactory())

    assert client.get(f"/order/{order.public_token}/receipt/").status_code == 404
    assert client.get(f"/order/{order.public_token}/receipt.pdf").status_code == 404
    client.force_login(owner)
    assert client.get(f"/order/{order.public_token}/receipt/").status_code == 200


def mixed_order(**fields) -> Order:
    """A paid order of a jumper (20 %) and two zero-rated books, delivery £4.95 shared between the
    rates by value: £4.29 at 20 % (VAT 71.5p, rounded up to 72p) and 66p at 0 %."""
    order = OrderFactory(
        number="NW100042",
        subtotal=6417,
        shipping_total=423,
        shipping_tax=72,
        tax_total=1155,
        total=7995,
        tax_name="VAT",
        paid_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        **fields,
    )
    OrderLineFactory(
        order=order, product_title="Merino Jumper", variant_label="M", sku="JUMP-M", unit_price=6500,
        net=5417, tax=1083, tax_rate=Decimal("20"),
    )  # fmt: skip
    OrderLineFactory(
        order=order, product_title="Field Guide to Moths", sku="BOOK-1", unit_price=500, quantity=2,
        net=1000, tax=0, tax_rate=Decimal("0"),
    )  # fmt: skip
    OrderTax.objects.create(order=order, rate=Decimal("0"), net=1066, tax=0)
    OrderTax.objects.create(order=order, rate=Decimal("20"), net=5774, tax=1155)
    PaymentFactory(order=order)
    return order


@pytest.mark.django_db
def test_mixed_rates_share_the_delivery_and_refunds_show_under_the_total(client):
    order = mixed_order(payment_status=Order.PaymentStatus.PARTIALLY_REFUNDED)
    payment = order.payments.get()
    refund = RefundFactory(payment=payment, amount=1200, tax=200)
    RefundFactory(payment=payment, amount=300, tax=50, status=Refund.Status.FAILED)
    refunded_on = dateformat.format(timezone.localtime(refund.created_at), "j F Y")

    body = page(client, f"/order/{order.public_token}/receipt/")

    assert "<dt>Date of payment</dt><dd>2 March 2026</dd>" in body
    rows = re.findall(r"<tr[^>]*><td>([^<]*)(?:<br>.*?)?</td>((?:<td class=\"num\">[^<]*</td>)+)</tr>", body)
    cells = [(name, re.findall(r">([^<]*)</td>", numbers)) for name, numbers in rows]
    assert cells == [
        ("Merino Jumper (M)", ["1", "£65.00", "£54.17", "20%", "£10.83", "£65.00"]),
        ("Field Guide to Moths", ["2", "£5.00", "£10.00", "0%", "£0.00", "£10.00"]),
        ("Delivery (Standard)", ["1", "£0.66", "£0.66", "0%", "£0.00", "£0.66"]),
        ("Delivery (Standard)", ["1", "£4.29", "£3.57", "20%", "£0.72", "£4.29"]),
        ("0%", ["£10.66", "£0.00", "£10.66"]),
        ("20%", ["£57.74", "£11.55", "£69.29"]),
        (refunded_on, ["−£12.00", "£2.00"]),
    ]
    assert "<strong>Total paid: £79.95</strong><br>Paid by card" in body
    assert '<th>Total after refunds</th><td class="num">£67.95</td><td class="num">£9.55</td>' in body
    assert "−£3.00" not in body  # the failed refund gave nothing back

    pdf = pdf_text(client.get(f"/order/{order.public_token}/receipt.pdf").content)
    assert "(Total paid: £79.95) Tj".encode("latin-1") in pdf
    assert "(-£12.00) Tj".encode("latin-1") in pdf and "(£67.95) Tj".encode("latin-1") in pdf


@pytest.mark.django_db
def test_an_order_priced_before_vat_reads_net_then_vat(client):
    order = OrderFactory(
        prices_include_tax=False,
        subtotal=5000,
        shipping_total=500,
        shipping_tax=100,
        tax_total=1100,
        total=6600,
    )
    OrderLineFactory(order=order, product_title="Desk Lamp", unit_price=2500, quantity=2, net=5000, tax=1000,
                     tax_rate=Decimal("20"))  # fmt: skip
    OrderTax.objects.create(order=order, rate=Decimal("20"), net=5500, tax=1100)

    body = page(client, f"/order/{order.public_token}/")

    assert '<th colspan="3">Subtotal</th><td class="num">£50.00</td>' in body
    assert '<th colspan="3">Delivery (Standard)</th><td class="num">£5.00</td>' in body
    assert '<th colspan="3">VAT</th><td class="num">£11.00</td>' in body
    assert '<tr class="grand"><th colspan="3">Total</th><td class="num">£66.00</td></tr>' in body
    assert "Includes VAT" not in body
    receipt = page(client, f"/order/{order.public_token}/receipt/")
    assert "Unit price (net)" in receipt and "Prices are shown before VAT." in receipt
    assert (
        '<td class="num">2</td><td class="num">£25.00</td><td class="num">£50.00</td><td class="num">20%</td>'
        '<td class="num">£10.00</td><td class="num">£60.00</td>'
    ) in receipt


@pytest.mark.django_db
def test_a_name_outside_latin_1_is_printed_with_an_embedded_font(client):
    order = mixed_order(full_name="Łukasz Żółć")

    response = client.get(f"/order/{order.public_token}/receipt.pdf")

    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert b"/BaseFont /" in response.content and b"DejaVuSans" in response.content
    text = pdf_text(response.content)
    assert b"<0141>" in text and b"<017B>" in text  # Ł and Ż are drawn (the fonts' ToUnicode maps)


@pytest.mark.django_db
def test_the_order_page_reads_the_same_queries_however_many_lines_and_rates(client):
    small = OrderFactory()
    OrderLineFactory(order=small, tax_rate=Decimal("20"))
    OrderTax.objects.create(order=small, rate=Decimal("20"), net=1200, tax=0)
    large = mixed_order()
    RefundFactory(payment=large.payments.get(), amount=100, tax=0)

    counts = []
    for order in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/order/{order.public_token}/").status_code == 200
        counts.append(len(queries))

    assert counts == [6, 6]  # the order, then its lines, tax rows, discounts, payments and refunds
