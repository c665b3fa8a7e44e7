"""Codes used together: entered one after another on the cart (each on what the ones before left,
replacing those it cannot join, at most five), then placed, paid or canceled with every use they
hold, against localstripe and the inventory API.

The jumper is £65.00 (VAT 20 % included), standard delivery £4.95, free from £75 of goods after
the codes. Two combinable codes of two promotions: FIVER (£5.00 off) and TENPC (10 % off).
"""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.models import Cart, Order, OrderDiscount
from checkout.services.staff import astaff_cancel
from inventory.models import Stock
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.audit import assert_audit_clean
from tests.factories import ProductFactory, StockFactory, UserFactory, VariantFactory, order_codes
from tests.helpers import charge_in_stripe, checkout_form, deliver, event, fill_cart, place, stripe_get


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


def table(body: str, css_class: str) -> list[list[str]]:
    """Return the rows of the one table whose class is `css_class`."""
    parser = _Tables()
    parser.feed(body)
    found = [rows for classes, rows in parser.tables if classes == css_class]
    assert len(found) == 1, [classes for classes, _rows in parser.tables]
    return found[0]


def text_of(response) -> str:
    return " ".join(response.content.decode().split())


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def code(text: str, *, name: str, limit: int | None = None, promotion: Promotion | None = None, **fields):
    """Return a new code `text` of a new combinable promotion (or of `promotion`)."""
    if promotion is None:
        promotion = Promotion.objects.create(name=name, **{"combinable": True, **fields})
    return DiscountCode.objects.create(promotion=promotion, code=text, usage_limit=limit)


def fiver(**fields) -> DiscountCode:
    return code("FIVER", name="Five off", reward="fixed", amount=500, **fields)


def tenpc(**fields) -> DiscountCode:
    return code("TENPC", name="Ten off", reward="percent", percent=Decimal(10), **fields)


def apply(client, text: str):
    return client.post("/cart/code/", {"code": text, "next": "/cart/"}, follow=True)


def cart_codes() -> list[str]:
    return Cart.objects.get().discount_codes


def discount_rows(body: str) -> list[list[str]]:
    """Return the cart table's footer rows after the subtotal: the codes, then the goods after them."""
    return table(body, "cart-table")[-(len(cart_codes()) + 1) :]


# Through the cart ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_codes_apply_one_after_another_each_on_what_the_one_before_left(client, shipping, jumper):
    fiver()
    tenpc()
    fill_cart(client, (jumper, 1))

    first = apply(client, "fiver")
    assert first.status_code == 200
    assert "Five off: £5.00 off." in text_of(first)
    second = apply(client, "tenpc")

    # £5.00 off £65.00 leaves £60.00; 10 % of that is £6.00: £11.00 off, the goods £54.00.
    assert second.status_code == 200
    body = second.content.decode()
    assert "Ten off: £6.00 off." in text_of(second) and "It replaces" not in body
    assert cart_codes() == ["FIVER", "TENPC"]
    assert discount_rows(body) == [
        ["Five off (FIVER)", "−£5.00"],
        ["Ten off (TENPC)", "−£6.00"],
        ["Goods after the discounts", "£54.00"],
    ]
    # Each code has its own Remove button, then a field for another.
    for text in ("FIVER", "TENPC"):
        assert (
            f'<button type="submit" name="remove" value="{text}" class="button-secondary" '
            f'aria-label="Remove code {text}">Remove</button>'
        ) in body
    assert '<label for="discount-code">Another discount code</label>' in body


@pytest.mark.django_db
def test_the_same_two_codes_the_other_way_round_take_off_more(client, shipping, jumper):
    fiver()
    tenpc()
    fill_cart(client, (jumper, 1))

    assert "Ten off: £6.50 off." in text_of(apply(client, "TENPC"))
    second = apply(client, "FIVER")

    # 10 % of £65.00 is £6.50, leaving £58.50; then £5.00: £11.50 off, the goods £53.50.
    assert "Five off: £5.00 off." in text_of(second)
    assert cart_codes() == ["TENPC", "FIVER"]
    assert discount_rows(second.content.decode()) == [
        ["Ten off (TENPC)", "−£6.50"],
        ["Five off (FIVER)", "−£5.00"],
        ["Goods after the discounts", "£53.50"],
    ]


@pytest.mark.django_db
def test_removing_one_code_keeps_the_other_now_on_the_whole_price(client, shipping, jumper):
    fiver()
    tenpc()
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")
    apply(client, "TENPC")
    version = Cart.objects.get().version

    removed = client.post("/cart/code/", {"remove": "FIVER", "next": "/cart/"}, follow=True)

    assert removed.status_code == 200
    assert "Discount code FIVER removed." in text_of(removed)
    assert cart_codes() == ["TENPC"] and Cart.objects.get().version > version
    # TENPC alone: 10 % of £65.00 = £6.50, the goods £58.50.
    assert discount_rows(removed.content.decode()) == [
        ["Ten off (TENPC)", "−£6.50"],
        ["Goods after the discount", "£58.50"],
    ]
    assert 'value="FIVER"' not in removed.content.decode()

    apply(client, "FIVER")
    cleared = client.post("/cart/code/", {"remove": "1", "next": "/cart/"}, follow=True)
    assert "Discount codes removed." in text_of(cleared) and cart_codes() == []
    assert 'data-total="discount"' not in cleared.content.decode()


@pytest.mark.django_db
def test_a_code_that_cannot_be_combined_replaces_those_applied_and_says_so(client, shipping, jumper):
    fiver()
    tenpc()
    code("ALONE", name="Twenty off", reward="percent", percent=Decimal(20), combinable=False)
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")
    apply(client, "TENPC")

    alone = apply(client, "alone")

    # 20 % of £65.00 = £13.00, on its own.
    assert alone.status_code == 200
    assert "Twenty off: £13.00 off. It replaces FIVER, TENPC: they cannot be used together." in text_of(alone)
    assert cart_codes() == ["ALONE"]
    assert discount_rows(alone.content.decode()) == [
        ["Twenty off (ALONE)", "−£13.00"],
        ["Goods after the discount", "£52.00"],
    ]

    # A combinable code after one that is not replaces it too: ALONE combines with nothing.
    back = apply(client, "FIVER")
    assert "Five off: £5.00 off. It replaces ALONE: they cannot be used together." in text_of(back)
    assert cart_codes() == ["FIVER"]


@pytest.mark.django_db
def test_a_second_code_of_the_same_promotion_replaces_the_first(client, shipping, jumper):
    first = fiver()
    code("FIVER2", name="Five off", promotion=first.promotion)
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")

    second = apply(client, "FIVER2")

    assert "Five off: £5.00 off. It replaces FIVER: from the same promotion." in text_of(second)
    assert cart_codes() == ["FIVER2"]
    assert discount_rows(second.content.decode())[0] == ["Five off (FIVER2)", "−£5.00"]


@pytest.mark.django_db
def test_a_second_free_delivery_code_replaces_the_first_and_keeps_the_others(client, shipping, jumper):
    code("SHIPFREE", name="Free delivery", reward="free_delivery")
    code("POSTFREE", name="Post on us", reward="free_delivery")
    tenpc()
    fill_cart(client, (jumper, 1))
    apply(client, "SHIPFREE")
    apply(client, "TENPC")  # combines with one free delivery

    second = apply(client, "POSTFREE")

    # Only the code it cannot be used with goes: TENPC combines with one free delivery, so it stays.
    assert "Post on us: free delivery. It replaces SHIPFREE: both make delivery free." in text_of(second)
    assert cart_codes() == ["TENPC", "POSTFREE"]


@pytest.mark.django_db
def test_a_sixth_code_is_refused_and_the_five_stay(client, settings, shipping, jumper):
    settings.RATE_LIMIT_DISCOUNT_CODE = "20/10m"
    for number in range(1, 7):
        code(f"POUND{number}", name=f"Pound off {number}", reward="fixed", amount=100)
    fill_cart(client, (jumper, 1))
    for number in range(1, 6):
        assert f"Pound off {number}: £1.00 off." in text_of(apply(client, f"POUND{number}"))
    five = ["POUND1", "POUND2", "POUND3", "POUND4", "POUND5"]
    assert cart_codes() == five
    version = Cart.objects.get().version

    sixth = client.post("/cart/code/", {"code": "POUND6", "next": "/cart/"})

    assert (sixth.status_code, sixth["Location"]) == (302, "/cart/")
    shown = client.get("/cart/")
    assert "An order can carry at most 5 codes: remove one first." in text_of(shown)
    assert cart_codes() == five and Cart.objects.get().version == version
    # Five pounds off £65.00: £60.00.
    assert table(shown.content.decode(), "cart-table")[-1] == ["Goods after the discounts", "£60.00"]


@pytest.mark.django_db
def test_a_code_applied_already_is_refused(client, shipping, jumper):
    fiver()
    tenpc()
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")
    apply(client, "TENPC")
    version = Cart.objects.get().version

    again = apply(client, " fiver ")

    assert again.status_code == 200
    assert "FIVER is applied already." in text_of(again)
    assert cart_codes() == ["FIVER", "TENPC"] and Cart.objects.get().version == version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("OLD", "That code has expired."),
        ("BIGSPEND", "That code needs a minimum spend of £100.00 (before delivery)."),
        ("NOSUCH", "We do not know that code. Please check it and try again."),
        ("PAUSED", "That code is not available at the moment."),
    ],
)
@pytest.mark.django_db
def test_a_refused_code_leaves_the_codes_applied_as_they_were(client, shipping, jumper, text, message):
    fiver()
    tenpc()
    code("OLD", name="Old", reward="fixed", amount=300, ends_at=timezone.now() - timedelta(days=1))
    code("BIGSPEND", name="Big spend", reward="fixed", amount=300, min_spend=10000)
    code("PAUSED", name="Paused", reward="fixed", amount=300, is_active=False)
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")
    apply(client, "TENPC")
    version = Cart.objects.get().version

    refused = client.post("/cart/code/", {"code": text, "next": "/cart/"})

    assert (refused.status_code, refused["Location"]) == (302, "/cart/")
    shown = client.get("/cart/")
    assert message in text_of(shown)
    assert cart_codes() == ["FIVER", "TENPC"] and Cart.objects.get().version == version
    assert discount_rows(shown.content.decode()) == [
        ["Five off (FIVER)", "−£5.00"],
        ["Ten off (TENPC)", "−£6.00"],
        ["Goods after the discounts", "£54.00"],
    ]


@pytest.mark.django_db
def test_each_minimum_spend_is_checked_on_the_goods_before_any_code(client, shipping, jumper):
    fiver()
    code("OVER62", name="Three off", reward="fixed", amount=300, min_spend=6200)
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")

    # After FIVER the goods are £60.00, under £62.00; before any code they are £65.00, enough.
    applied = apply(client, "OVER62")

    assert "Three off: £3.00 off." in text_of(applied)
    assert cart_codes() == ["FIVER", "OVER62"]
    assert discount_rows(applied.content.decode())[-1] == ["Goods after the discounts", "£57.00"]


# Placed, paid and canceled -------------------------------------------------------------------


@pytest.fixture
def mug():
    """An enamel mug at £12.50, ten in stock."""
    product = ProductFactory(title="Enamel Mug", slug="enamel-mug", price_from=1250)
    variant = VariantFactory(product=product, sku="MUG", price=1250)
    StockFactory(variant=variant, on_hand=10)
    return variant


def placed_with_two_codes(outside, client, jumper, mug) -> Order:
    """Place the jumper and the mug with FIVER then TENPC; return the order, its sums checked.

    Goods £77.50. FIVER's £5.00 is shared 6500 : 1250 = 419.35 / 80.65 -> floors 419 + 80 = 499, the
    penny left to .65: jumper 419, mug 81; they are left at 6081 and 1169 (£72.50). TENPC takes 10 %
    of 7250 = 725, shared 6081 : 1169 = 608.1 / 116.9 -> floors 608 + 116 = 724, the penny to .9:
    jumper 608, mug 117. Off the jumper 419 + 608 = 1027, off the mug 81 + 117 = 198; 1225 in all.
    The goods come to 7750 - 1225 = 6525, under £75 once the codes are off: delivery £4.95.
    VAT inside: jumper 5473 / 6 = 912.17 -> 912 (net 4561); mug 1052 / 6 = 175.33 -> 175 (net 877);
    delivery 495 / 6 = 82.5 -> 83 (net 412). Total 6525 + 495 = 7020, VAT 912 + 175 + 83 = 1170.
    """
    fill_cart(client, (jumper, 1), (mug, 1))
    assert "Five off: £5.00 off." in text_of(apply(client, "FIVER"))
    assert "Ten off: £7.25 off." in text_of(apply(client, "TENPC"))
    response = place(client, Cart.objects.get().version)
    assert response.status_code == 302, text_of(response)[:3000]
    order = Order.objects.get()
    assert response["Location"] == f"/order/{order.public_token}/pay/"

    rows = OrderDiscount.objects.filter(order=order).order_by("position")
    assert [(row.kind, row.code, row.name, row.amount, row.delivery, row.position) for row in rows] == [
        ("code", "FIVER", "Five off", 500, 0, 0),
        ("code", "TENPC", "Ten off", 725, 0, 1),
    ]
    assert order_codes(order) == ("FIVER", "TENPC")
    assert sum(row.amount for row in rows) == order.discount_total == 1225
    lines = [
        (line.sku, line.unit_price, line.list_price, line.line_total, line.discount, line.net, line.tax)
        for line in order.lines.order_by("id")
    ]
    assert lines == [
        ("JUMP-M", 6500, 6500, 6500, 1027, 4561, 912),
        ("MUG", 1250, 1250, 1250, 198, 877, 175),
    ]
    assert (order.shipping_total, order.shipping_tax, order.tax_total, order.total) == (412, 83, 1170, 7020)
    assert order.subtotal + order.shipping_total + order.tax_total == order.total
    intent = stripe_get(outside, f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["amount"] == 7020
    uses = CodeUse.objects.filter(order=order).order_by("code__code")
    assert [(use.code.code, use.status) for use in uses] == [("FIVER", "held"), ("TENPC", "held")]
    assert sorted(DiscountCode.objects.values_list("code", "uses")) == [("FIVER", 1), ("TENPC", 1)]
    assert Cart.objects.get().discount_codes == []  # the codes went with the order
    assert_audit_clean()
    return order


# The order's lines and totals as the order page lists them.
TWO_CODES_LINES = [
    ["Item", "Qty", "Price", "Total"],
    ["Merino Jumper (M) JUMP-M Five off (FIVER), Ten off (TENPC): −£10.27", "1", "£65.00", "£65.00"],
    ["Enamel Mug MUG Five off (FIVER), Ten off (TENPC): −£1.98", "1", "£12.50", "£12.50"],
    ["Subtotal (goods, gross)", "£77.50"],
    ["Five off (FIVER)", "−£5.00"],
    ["Ten off (TENPC)", "−£7.25"],
    ["Delivery (Standard)", "£4.95"],
    ["Total", "£70.20"],
    ["Includes VAT", "£11.70"],
]


def test_an_order_with_two_codes_holds_both_uses_and_paying_consumes_both(
    outside, shipping, client, jumper, mug
):
    fiver()
    tenpc()
    order = placed_with_two_codes(outside, client, jumper, mug)

    intent = charge_in_stripe(outside, order)
    assert intent["amount"] == 7020
    assert deliver(client, event("payment_intent.succeeded", intent)).status_code == 200

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert order.payments.get().amount_received == 7020
    assert sorted(CodeUse.objects.filter(order=order).values_list("code__code", "status")) == [
        ("FIVER", "consumed"),
        ("TENPC", "consumed"),
    ]
    assert sorted(DiscountCode.objects.values_list("code", "uses")) == [("FIVER", 1), ("TENPC", 1)]
    assert_audit_clean()

    body = page(client, f"/order/{order.public_token}/")
    assert table(body, "summary") == TWO_CODES_LINES
    assert table(body, "summary vat-lines")[1:] == [
        ["1 × Merino Jumper (M)", "−£10.27", "£45.61", "20%", "£9.12", "£54.73"],
        ["1 × Enamel Mug", "−£1.98", "£8.77", "20%", "£1.75", "£10.52"],
        ["Delivery (Standard)", "—", "£4.12", "20%", "£0.83", "£4.95"],
    ]
    receipt = page(client, f"/order/{order.public_token}/receipt/")
    # Net 4561 + 877 + 412 = 5850, VAT 1170, gross 7020.
    assert table(receipt, "receipt-table receipt-lines") == [
        ["Item", "Qty", "Unit price (gross)", "Discount", "Net", "VAT rate", "VAT", "Gross"],
        ["Merino Jumper (M) JUMP-M", "1", "£65.00", "−£10.27", "£45.61", "20%", "£9.12", "£54.73"],
        ["Enamel Mug MUG", "1", "£12.50", "−£1.98", "£8.77", "20%", "£1.75", "£10.52"],
        ["Delivery (Standard)", "1", "£4.95", "—", "£4.12", "20%", "£0.83", "£4.95"],
        ["Discount: Five off (FIVER)", "−£5.00", ""],
        ["Discount: Ten off (TENPC)", "−£7.25", ""],
        ["Total", "£58.50", "", "£11.70", "£70.20"],
    ]
    assert "<strong>Total paid: £70.20</strong>" in receipt


def test_an_unpaid_order_with_two_codes_canceled_by_staff_gives_both_uses_back(
    outside, shipping, client, jumper, mug
):
    fiver(limit=1)
    tenpc()
    order = placed_with_two_codes(outside, client, jumper, mug)
    staff = UserFactory(is_staff=True)

    async_to_sync(astaff_cancel)(order=order, reason="customer asked", actor_id=staff.pk)

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("canceled", "voided")
    assert sorted(CodeUse.objects.filter(order=order).values_list("code__code", "status")) == [
        ("FIVER", "released"),
        ("TENPC", "released"),
    ]
    assert sorted(DiscountCode.objects.values_list("code", "uses")) == [("FIVER", 0), ("TENPC", 0)]
    # What the order was discounted with stays on record.
    assert order_codes(order) == ("FIVER", "TENPC") and order.discount_total == 1225
    assert_audit_clean()
    # FIVER's one use is free again: the next shopper may have it.
    other = Client()
    fill_cart(other, (mug, 1))
    assert "Five off: £5.00 off." in text_of(apply(other, "FIVER"))


# A code lost between the checkout page and "Place order" ---------------------------------------


def _used_up(jumper) -> str:
    """Another shopper's order takes TENPC's last use; return the code lost."""
    other = Client()
    fill_cart(other, (jumper, 1))
    assert "Ten off: £6.50 off." in text_of(apply(other, "TENPC"))
    theirs = Cart.objects.get(discount_codes=["TENPC"])
    assert place(other, theirs.version).status_code == 302
    return "TENPC"


def _paused(jumper) -> str:
    """Staff pause FIVER's promotion; return the code lost."""
    Promotion.objects.filter(codes__code="FIVER").update(is_active=False)
    return "FIVER"


@pytest.mark.parametrize(
    ("lose", "message", "total"),
    [
        # Without TENPC: £65.00 - £5.00 = £60.00, delivery £4.95: £64.95.
        (_used_up, "Code TENPC: That code has been used up. The totals below are without it.", "£64.95"),
        # Without FIVER: TENPC on the whole £65.00, £6.50: £58.50 + £4.95 = £63.45.
        (_paused, "Code FIVER: That code is not available at the moment. The totals below are without it.",
         "£63.45"),
    ],
    ids=["used-up", "paused"],
)  # fmt: skip
def test_a_code_lost_before_placing_is_named_and_nothing_is_written(
    outside, shipping, client, jumper, lose, message, total
):
    fiver()
    tenpc(limit=1)
    fill_cart(client, (jumper, 1))
    apply(client, "FIVER")
    apply(client, "TENPC")
    mine = Cart.objects.get()
    form = checkout_form(client, mine.version)  # the page shows both: £65.00 - £11.00 + £4.95 = £58.95
    lost = lose(jumper)
    orders = set(Order.objects.values_list("pk", flat=True))
    uses = sorted(DiscountCode.objects.values_list("code", "uses"))
    code_uses = sorted(CodeUse.objects.values_list("pk", "status"))
    discounts = OrderDiscount.objects.count()
    stock = Stock.objects.values_list("on_hand", "allocated").get(variant=jumper)

    response = client.post("/checkout/", form)

    assert response.status_code == 409
    text = text_of(response)
    assert message in text
    assert f'data-total="total">{total}<' in text
    assert 'data-total="discount">−£6.00<' not in text  # TENPC after FIVER, as it was
    assert set(Order.objects.values_list("pk", flat=True)) == orders
    assert sorted(DiscountCode.objects.values_list("code", "uses")) == uses
    assert sorted(CodeUse.objects.values_list("pk", "status")) == code_uses
    assert OrderDiscount.objects.count() == discounts
    assert Stock.objects.values_list("on_hand", "allocated").get(variant=jumper) == stock
    mine.refresh_from_db()
    assert mine.discount_codes == ["FIVER", "TENPC"] and lost in mine.discount_codes
    assert_audit_clean()


def test_codes_after_a_sale_apply_to_the_sale_prices_and_one_may_leave_sale_items_alone(
    outside, shipping, client, jumper, mug
):
    sale = Promotion.objects.create(name="Winter sale", kind="sale", reward="percent", percent=Decimal(20))
    sale.products.add(jumper.product)
    code("NOSALE", name="Ten off full price", reward="percent", percent=Decimal(10), exclude_sale_items=True)
    fiver()
    fill_cart(client, (jumper, 1))
    alone = apply(client, "NOSALE")
    assert "That code is not valid for items on sale or the other items in your cart." in text_of(alone)
    assert cart_codes() == []

    # The jumper at its sale price, 6500 - 20 % (1300) = 5200; the mug 1250 at its own.
    # NOSALE leaves the jumper alone: 10 % of the mug, 125, leaving 5200 + 1125 = 6325. FIVER's
    # £5.00 is then shared 5200 : 1125 = 411.07 / 88.93 -> floors 411 + 88, the penny to .93:
    # jumper 411, mug 89. Off the jumper 411, off the mug 125 + 89 = 214: 625 in all, the goods
    # 6450 - 625 = 5825, delivery £4.95. VAT inside: jumper 4789 / 6 = 798.17 -> 798 (net 3991);
    # mug 1036 / 6 = 172.67 -> 173 (net 863); delivery 83 (net 412). Total 5825 + 495 = 6320, VAT 1054.
    fill_cart(client, (mug, 1))
    assert "Ten off full price: £1.25 off." in text_of(apply(client, "NOSALE"))
    shown = apply(client, "FIVER")
    assert "Five off: £5.00 off." in text_of(shown)
    assert 'data-total="sale">£13.00<' in shown.content.decode()
    response = place(client, Cart.objects.get().version)

    assert response.status_code == 302, text_of(response)[:3000]
    order = Order.objects.get()
    rows = OrderDiscount.objects.filter(order=order).order_by("kind", "position")
    assert [(row.kind, row.code, row.name, row.amount, row.position) for row in rows] == [
        ("code", "NOSALE", "Ten off full price", 125, 0),
        ("code", "FIVER", "Five off", 500, 1),
        ("sale", "", "Winter sale", 1300, 0),
    ]
    lines = [
        (line.sku, line.unit_price, line.list_price, line.sale_id, line.discount, line.net, line.tax)
        for line in order.lines.order_by("id")
    ]
    assert lines == [
        ("JUMP-M", 5200, 6500, sale.pk, 411, 3991, 798),
        ("MUG", 1250, 1250, None, 214, 863, 173),
    ]
    assert (order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        625,
        412,
        1054,
        6320,
    )
    assert stripe_get(outside, f"payment_intents/{order.payments.get().payment_intent_id}")["amount"] == 6320
    assert_audit_clean()


def test_uses_are_held_in_the_codes_id_order_whatever_order_they_were_entered_in(
    outside, shipping, client, jumper
):
    # Two orders holding the same two codes take the codes' row locks in one order, so neither can
    # wait for the other in a circle (a deadlock), however each shopper entered them.
    first, second = fiver(), tenpc()
    fill_cart(client, (jumper, 1))
    apply(client, "TENPC")
    apply(client, "FIVER")
    assert cart_codes() == ["TENPC", "FIVER"]

    with CaptureQueriesContext(connection) as queries:
        response = place(client, Cart.objects.get().version)

    assert response.status_code == 302, text_of(response)[:2000]
    held = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('UPDATE "promotions_discountcode"')
    ]
    assert len(held) == 2
    assert [f'"id" = {first.pk}' in held[0], f'"id" = {second.pk}' in held[1]] == [True, True]
    assert first.pk < second.pk
    # The order still lists the codes as they were applied: TENPC first, then FIVER.
    assert order_codes(Order.objects.get()) == ("TENPC", "FIVER")
