"""Every penny of an order with a discount code, placed through the real checkout (localstripe,
the inventory API over HTTP), with prices including VAT and excluding it.

The basket, at catalogue prices, delivered to the UK by standard delivery (£4.95; free only
from £75, which these goods never reach):
    Wool Scarf     1 × 24.99 = 24.99  standard rate, 20 %  (Knitwear, under Clothing)
    Picture Book   2 ×  7.99 = 15.98  zero rate, 0 %       (Books)
    goods                      40.97

A promotion takes its cut off the goods before VAT is worked out: a percentage is rounded half
up once over the lines it covers, then shared out by their amounts (largest remainder); a fixed
amount is shared the same way, never more than those lines cost; free delivery takes the
delivery price. Delivery is then taxed at the goods' rates, shared by what is left of them.
Tax is rounded half up per line: with prices including VAT it is the 20/120 inside the price,
excluding VAT it is 20 % on top. Every number below is worked out by hand.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from checkout.models import Cart, Order, OrderTax
from promotions.models import DiscountCode, Promotion
from tests.audit import assert_audit_clean
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    StockFactory,
    TaxClassFactory,
    TaxRateFactory,
    VariantFactory,
    order_codes,
)
from tests.helpers import fill_cart, place, stripe_get

D = Decimal


@dataclass(frozen=True)
class Expected:
    """One code on the basket, with prices including VAT or not, worked out by hand."""

    prices_include_tax: bool
    promotion: dict  # the promotion's reward fields
    lines: list[tuple[int, int, int]]  # (discount, net, tax) of the scarf, then the book
    delivery: tuple[int, int]  # (net, tax) of delivery, all its parts
    rates: list[tuple[Decimal, int, int]]  # (rate, net, tax) per rate, delivery included
    subtotal: int  # the goods, net, after the discount
    tax: int
    discount: int
    total: int
    on_clothing: bool = False  # the promotion covers the Clothing category only


PERCENT_10 = {"reward": "percent", "percent": D(10)}
PERCENT_25 = {"reward": "percent", "percent": D(25)}
FIXED_10 = {"reward": "fixed", "amount": 1000}
FIXED_60 = {"reward": "fixed", "amount": 6000}
FREE_DELIVERY = {"reward": "free_delivery"}

CASES = {
    # 10 % of 4097 = 409.7 -> 410, shared 2499 : 1598 = 250.08 / 159.92 -> floors 409, +1 to .92:
    #   scarf 250 off, book 160 off. Scarf 2249 gross: 2249 / 6 = 374.83 -> VAT 375, net 1874.
    #   Book 1438, no VAT. Delivery 495 shared 2249 : 1438 = 301.94 / 193.06 -> 302 at 20 %
    #   (302 / 6 = 50.33 -> 50, net 252) and 193 at 0 %. Net goods 1874 + 1438 = 3312, delivery
    #   252 + 193 = 445, VAT 375 + 50 = 425; total 2249 + 1438 + 495 = 4182 (= 3312 + 445 + 425).
    "included-percent-on-the-order": Expected(
        prices_include_tax=True,
        promotion=PERCENT_10,
        lines=[(250, 1874, 375), (160, 1438, 0)],
        delivery=(445, 50),
        rates=[(D(0), 1438 + 193, 0), (D(20), 1874 + 252, 425)],
        subtotal=3312,
        tax=425,
        discount=410,
        total=4182,
    ),
    # 25 % of the scarf only (its Knitwear is under Clothing): 2499 / 4 = 624.75 -> 625.
    #   Scarf 1874 gross: 1874 / 6 = 312.33 -> 312, net 1562. Book 1598 untouched, no VAT.
    #   Delivery shared 1874 : 1598 = 267.18 / 227.82 -> floors 494, +1 to .82: 267 at 20 %
    #   (267 / 6 = 44.5 -> 45 half up, net 222), 228 at 0 %. Net goods 1562 + 1598 = 3160,
    #   delivery 222 + 228 = 450, VAT 312 + 45 = 357; total 1874 + 1598 + 495 = 3967.
    "included-percent-on-one-category": Expected(
        prices_include_tax=True,
        promotion=PERCENT_25,
        on_clothing=True,
        lines=[(625, 1562, 312), (0, 1598, 0)],
        delivery=(450, 45),
        rates=[(D(0), 1598 + 228, 0), (D(20), 1562 + 222, 357)],
        subtotal=3160,
        tax=357,
        discount=625,
        total=3967,
    ),
    # £10 off, shared 2499 : 1598 = 609.96 / 390.04 -> floors 999, +1 to .96: scarf 610, book 390.
    #   The VAT follows each rate: the scarf's falls from 2499 / 6 = 416.5 -> 417 to
    #   1889 / 6 = 314.83 -> 315 (102 less, the 20 % inside its 610); the book's stays 0 though
    #   it takes 390 of the £10. Scarf net 1574; book 1208. Delivery shared 1889 : 1208 = 301.92 /
    #   193.08 -> 302 at 20 % (50, net 252) and 193 at 0 %. Net goods 1574 + 1208 = 2782,
    #   delivery 445, VAT 315 + 50 = 365; total 1889 + 1208 + 495 = 3592.
    "included-fixed-over-two-rates": Expected(
        prices_include_tax=True,
        promotion=FIXED_10,
        lines=[(610, 1574, 315), (390, 1208, 0)],
        delivery=(445, 50),
        rates=[(D(0), 1208 + 193, 0), (D(20), 1574 + 252, 365)],
        subtotal=2782,
        tax=365,
        discount=1000,
        total=3592,
    ),
    # £60 off 40.97 of goods: capped at 4097, each line its whole amount (2499, 1598): the goods
    #   cost nothing. Delivery is still charged (the band from 0), shared by the goods' value before
    #   the discount, 2499 : 1598: 495 × 2499 / 4097 = 301.93, 495 × 1598 / 4097 = 193.07 -> floors
    #   301 + 193, +1 to .93 -> 302 at 20 % (302 / 6 = 50.33 -> VAT 50, net 252) and 193 at 0 %.
    #   Total 495, all of it delivery.
    "included-fixed-above-the-goods": Expected(
        prices_include_tax=True,
        promotion=FIXED_60,
        lines=[(2499, 0, 0), (1598, 0, 0)],
        delivery=(445, 50),
        rates=[(D(0), 193, 0), (D(20), 252, 50)],
        subtotal=0,
        tax=50,
        discount=4097,
        total=495,
    ),
    # Free delivery: the goods as they are (scarf 2499 / 6 = 416.5 -> 417, net 2082; book 1598),
    #   delivery 0 with no VAT; the 495 it would have cost is the discount. Total 4097.
    "included-free-delivery": Expected(
        prices_include_tax=True,
        promotion=FREE_DELIVERY,
        lines=[(0, 2082, 417), (0, 1598, 0)],
        delivery=(0, 0),
        rates=[(D(0), 1598, 0), (D(20), 2082, 417)],
        subtotal=3680,
        tax=417,
        discount=495,
        total=4097,
    ),
    # Prices exclude VAT: the same cuts off the same amounts, now net, and VAT is 20 % on top.
    # 10 %: scarf 2249 net, × 0.2 = 449.8 -> 450; book 1438. Delivery 302 / 193 as above:
    #   302 × 0.2 = 60.4 -> 60. Net goods 3687, delivery 495, VAT 510; total 3687 + 495 + 510 = 4692.
    "excluded-percent-on-the-order": Expected(
        prices_include_tax=False,
        promotion=PERCENT_10,
        lines=[(250, 2249, 450), (160, 1438, 0)],
        delivery=(495, 60),
        rates=[(D(0), 1438 + 193, 0), (D(20), 2249 + 302, 510)],
        subtotal=3687,
        tax=510,
        discount=410,
        total=4692,
    ),
    # 25 % of the scarf, 625: 1874 net, × 0.2 = 374.8 -> 375. Delivery 267 / 228 as above:
    #   267 × 0.2 = 53.4 -> 53. Net goods 1874 + 1598 = 3472, VAT 428; total 3472 + 495 + 428 = 4395.
    "excluded-percent-on-one-category": Expected(
        prices_include_tax=False,
        promotion=PERCENT_25,
        on_clothing=True,
        lines=[(625, 1874, 375), (0, 1598, 0)],
        delivery=(495, 53),
        rates=[(D(0), 1598 + 228, 0), (D(20), 1874 + 267, 428)],
        subtotal=3472,
        tax=428,
        discount=625,
        total=4395,
    ),
    # £10 off the net prices, 610 / 390: scarf 1889 × 0.2 = 377.8 -> 378 (500 before: 122 less,
    #   20 % of its 610); the book's 390 carries no VAT. Delivery 302 / 193: 60. Net goods
    #   1889 + 1208 = 3097, VAT 378 + 60 = 438; total 3097 + 495 + 438 = 4030. The shopper saves
    #   1122 on the 5152 it would have cost: the 1000 off and the VAT it carried.
    "excluded-fixed-over-two-rates": Expected(
        prices_include_tax=False,
        promotion=FIXED_10,
        lines=[(610, 1889, 378), (390, 1208, 0)],
        delivery=(495, 60),
        rates=[(D(0), 1208 + 193, 0), (D(20), 1889 + 302, 438)],
        subtotal=3097,
        tax=438,
        discount=1000,
        total=4030,
    ),
    # £60 off: the goods cost nothing; delivery 495 net shared 302 : 193 as above (by the goods'
    #   value before the discount): 302 × 0.2 = 60.4 -> 60 at 20 %, 193 at 0 %. Total 495 + 60 = 555.
    "excluded-fixed-above-the-goods": Expected(
        prices_include_tax=False,
        promotion=FIXED_60,
        lines=[(2499, 0, 0), (1598, 0, 0)],
        delivery=(495, 60),
        rates=[(D(0), 193, 0), (D(20), 302, 60)],
        subtotal=0,
        tax=60,
        discount=4097,
        total=555,
    ),
    # Free delivery: scarf 2499 × 0.2 = 499.8 -> 500, book 1598; no delivery. Total 4097 + 500 = 4597.
    "excluded-free-delivery": Expected(
        prices_include_tax=False,
        promotion=FREE_DELIVERY,
        lines=[(0, 2499, 500), (0, 1598, 0)],
        delivery=(0, 0),
        rates=[(D(0), 1598, 0), (D(20), 2499, 500)],
        subtotal=4097,
        tax=500,
        discount=495,
        total=4597,
    ),
}


@pytest.fixture
def basket(shipping):
    """The scarf (standard rate) and the book (zero rate), with their categories; return
    (scarf, book, clothing)."""
    standard = TaxClassFactory(code="standard")  # its 20 % in the UK comes with `shipping`
    zero = TaxClassFactory(code="zero")
    TaxRateFactory(tax_class=zero, country="GB", rate=0)
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear", parent=clothing)
    books = CategoryFactory(name="Books", slug="books")
    variants = []
    for sku, title, price, category, tax_class in [
        ("SCARF", "Wool Scarf", 2499, knitwear, standard),
        ("BOOK", "Picture Book", 799, books, zero),
    ]:
        product = ProductFactory(title=title, category=category, price_from=price, tax_class=tax_class)
        variant = VariantFactory(product=product, sku=sku, price=price)
        StockFactory(variant=variant, on_hand=10)
        variants.append(variant)
    return (*variants, clothing)


@pytest.mark.parametrize("case", CASES)
def test_a_discounted_order_keeps_every_penny(outside, basket, client, case):
    expected = CASES[case]
    outside.PRICES_INCLUDE_TAX = expected.prices_include_tax
    outside.TAX_ROUNDING, outside.TAX_CROSS_BORDER = "line", "same_gross"
    scarf, book, clothing = basket
    promotion = Promotion.objects.create(name="Spring offer", **expected.promotion)
    if expected.on_clothing:
        promotion.categories.add(clothing)
    DiscountCode.objects.create(promotion=promotion, code="SPRING")
    fill_cart(client, (scarf, 1), (book, 2))

    applied = client.post("/cart/code/", {"code": "spring", "next": "/cart/"}, follow=True)
    assert applied.status_code == 200
    assert "Spring offer: " in applied.content.decode()
    response = place(client, Cart.objects.get().version)

    assert response.status_code == 302, " ".join(response.content.decode().split())[:3000]
    order = Order.objects.get()
    assert response["Location"] == f"/order/{order.public_token}/pay/"
    assert (order_codes(order), order.discounts.get().name, order.prices_include_tax) == (
        ("SPRING",),
        "Spring offer",
        expected.prices_include_tax,
    )
    lines = [
        (line.sku, line.line_total, line.discount, line.net, line.tax, line.tax_rate)
        for line in order.lines.order_by("id")
    ]
    assert lines == [
        ("SCARF", 2499, *expected.lines[0], D(20)),
        ("BOOK", 1598, *expected.lines[1], D(0)),
    ]
    assert (order.shipping_total, order.shipping_tax) == expected.delivery
    assert (order.subtotal, order.tax_total, order.discount_total, order.total) == (
        expected.subtotal,
        expected.tax,
        expected.discount,
        expected.total,
    )
    assert [(row.rate, row.net, row.tax) for row in OrderTax.objects.filter(order=order)] == expected.rates
    # The parts add up: net goods, net delivery and VAT are the total.
    assert order.subtotal + order.shipping_total + order.tax_total == order.total
    intent = stripe_get(outside, f"payment_intents/{order.payments.get().payment_intent_id}")
    assert (intent["amount"], intent["currency"]) == (expected.total, "gbp")
    assert_audit_clean()
