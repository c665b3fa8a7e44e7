"""VAT and delivery on a basket of standard, reduced and zero-rated goods: the order's money as
checkout.pricing works it out, then as a real placement writes it and asks Stripe to charge it.

The basket, at catalogue prices:
    Wool Scarf       1 × 19.99 = 19.99  standard (its product names no tax class: the default)
    Felt Hat         2 × 15.99 = 31.98  standard
    Child Car Seat   1 × 49.99 = 49.99  reduced
    Picture Book     2 ×  7.99 = 15.98  zero
    goods                        117.94 (no free delivery)
Delivery 4.95 to the UK, 9.95 to Germany. VAT in the UK 20 / 5 / 0 %, in Germany 19 / 7 / 0 %.

Delivery is taxed at the rates of the goods, shared out by their value (5197 : 4999 : 1598 of 11794):
    UK 495: 495 × 5197/11794 = 218.12, × 4999/11794 = 209.81, × 1598/11794 = 67.07
            floors 218 + 209 + 67 = 494, the 1 left to the largest remainder (.81): 218 / 210 / 67
    DE 995: 438.44 / 421.74 / 134.82, floors 993, +1 to .82 and +1 to .74: 438 / 422 / 135
Every number below is worked out by hand from these.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from checkout.models import Order, OrderTax, Payment
from checkout.pricing import GoodsLine, order_totals
from taxes.rules import country_rates, tax_rule
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    StockFactory,
    TaxClassFactory,
    TaxRateFactory,
    VariantFactory,
)
from tests.helpers import fill_cart, place, stripe_get

GERMAN_ADDRESS = {"country": "DE", "city": "Berlin", "postcode": "10115", "line1": "Unter den Linden 1"}


@dataclass(frozen=True)
class Expected:
    """One way of taxing the basket, worked out by hand."""

    country: str
    prices_include_tax: bool
    rounding: str
    cross_border: str
    goods: list[tuple[int, int]]  # (net, tax) of scarf, hat, car seat, book
    delivery: list[tuple[int, int]]  # (net, tax) of delivery's standard, reduced and zero parts
    rates: list[tuple[Decimal, int, int]]  # (rate, net, tax) per rate, delivery included
    goods_gross: int
    total: int

    @property
    def subtotal(self) -> int:
        return sum(net for net, _tax in self.goods)

    @property
    def shipping(self) -> int:
        return sum(net for net, _tax in self.delivery)

    @property
    def shipping_tax(self) -> int:
        return sum(tax for _net, tax in self.delivery)

    @property
    def tax(self) -> int:
        return sum(tax for _rate, _net, tax in self.rates)


D = Decimal
CASES = {
    # Prices include VAT, rounded per line, to the UK:
    #   scarf 1999 × 20/120 = 333.17 -> 333; hat 3198 / 6 = 533 exactly; seat 4999 / 21 = 238.05 -> 238
    #   delivery 218 / 6 = 36.33 -> 36; 210 / 21 = 10 exactly; 67 at 0 %
    #   20 %: 333 + 533 + 36 = 902 on 1666 + 2665 + 182 = 4513; 5 %: 238 + 10 = 248 on 4761 + 200
    #   total = 11794 + 495 = 12289 (= 10690 net goods + 449 net delivery + 1150 VAT)
    "uk-included-line": (
        uk_included_line := Expected(
            country="GB",
            prices_include_tax=True,
            rounding="line",
            cross_border="same_gross",
            goods=[(1666, 333), (2665, 533), (4761, 238), (1598, 0)],
            delivery=[(182, 36), (200, 10), (67, 0)],
            rates=[(D(0), 1665, 0), (D(5), 4961, 248), (D(20), 4513, 902)],
            goods_gross=11794,
            total=12289,
        )
    ),
    # Per order: 20 %: 5415 / 6 = 902.5 -> 903 (one more than per line), shared by 1999 : 3198 : 218:
    #   333.351, 533.295, 36.353 -> floors 902, the 1 left to the delivery part (.353 > .351)
    #   5 %: 5209 / 21 = 248.05 -> 248, shared 238.002 / 9.998 -> 238 / 10
    "uk-included-order": Expected(
        country="GB",
        prices_include_tax=True,
        rounding="order",
        cross_border="same_gross",
        goods=[(1666, 333), (2665, 533), (4761, 238), (1598, 0)],
        delivery=[(181, 37), (200, 10), (67, 0)],
        rates=[(D(0), 1665, 0), (D(5), 4961, 248), (D(20), 4512, 903)],
        goods_gross=11794,
        total=12289,
    ),
    # Prices exclude VAT, per line: 1999 × 0.2 = 399.8 -> 400; 3198 × 0.2 = 639.6 -> 640;
    #   4999 × 0.05 = 249.95 -> 250; delivery 218 × 0.2 = 43.6 -> 44, 210 × 0.05 = 10.5 -> 11 (half up)
    #   VAT 1084 + 261 = 1345; total 11794 + 495 + 1345 = 13634
    "uk-excluded-line": Expected(
        country="GB",
        prices_include_tax=False,
        rounding="line",
        cross_border="same_gross",
        goods=[(1999, 400), (3198, 640), (4999, 250), (1598, 0)],
        delivery=[(218, 44), (210, 11), (67, 0)],
        rates=[(D(0), 1665, 0), (D(5), 5209, 261), (D(20), 5415, 1084)],
        goods_gross=11794 + 1290,
        total=13634,
    ),
    # Per order: 20 %: 5415 × 0.2 = 1083 exactly, shared 399.8 / 639.6 / 43.6: floors 1081, +1 to .8 and
    #   +1 to the earlier .6 (the hat) -> 400 / 640 / 43; 5 %: 5209 × 0.05 = 260.45 -> 260, shared
    #   249.52 / 10.48 -> 250 / 10. VAT 1343, total 11794 + 495 + 1343 = 13632
    "uk-excluded-order": Expected(
        country="GB",
        prices_include_tax=False,
        rounding="order",
        cross_border="same_gross",
        goods=[(1999, 400), (3198, 640), (4999, 250), (1598, 0)],
        delivery=[(218, 43), (210, 10), (67, 0)],
        rates=[(D(0), 1665, 0), (D(5), 5209, 260), (D(20), 5415, 1083)],
        goods_gross=11794 + 1290,
        total=13632,
    ),
    # Germany, same gross price: scarf 1999 × 19/119 = 319.17 -> 319; hat 3198 × 19/119 = 510.61 -> 511;
    #   seat 4999 × 7/107 = 327.04 -> 327; delivery 438 × 19/119 = 69.93 -> 70, 422 × 7/107 = 27.61 -> 28
    #   19 %: 900 on 1680 + 2687 + 368 = 4735; 7 %: 355 on 4672 + 394 = 5066; 0 %: 1598 + 135
    #   total 11794 + 995 = 12789
    "de-included-line": (
        de_included_line := Expected(
            country="DE",
            prices_include_tax=True,
            rounding="line",
            cross_border="same_gross",
            goods=[(1680, 319), (2687, 511), (4672, 327), (1598, 0)],
            delivery=[(368, 70), (394, 28), (135, 0)],
            rates=[(D(0), 1733, 0), (D(7), 5066, 355), (D(19), 4735, 900)],
            goods_gross=11794,
            total=12789,
        )
    ),
    # Per order: 19 %: 5635 × 19/119 = 899.71 -> 900, shared 319.27 / 510.77 / 69.96 -> floors 898, +1 to
    #   .96 and .77 -> 319 / 511 / 70; 7 %: 5421 × 7/107 = 354.64 -> 355, shared 327.36 / 27.64 -> 327 / 28
    #   (the same pennies as per line)
    "de-included-order": replace(de_included_line, rounding="order"),
    # Germany, prices exclude VAT, per line: 1999 × 0.19 = 379.81 -> 380; 3198 × 0.19 = 607.62 -> 608;
    #   4999 × 0.07 = 349.93 -> 350; 438 × 0.19 = 83.22 -> 83; 422 × 0.07 = 29.54 -> 30
    #   VAT 1071 + 380 = 1451; total 11794 + 995 + 1451 = 14240
    "de-excluded-line": Expected(
        country="DE",
        prices_include_tax=False,
        rounding="line",
        cross_border="same_gross",
        goods=[(1999, 380), (3198, 608), (4999, 350), (1598, 0)],
        delivery=[(438, 83), (422, 30), (135, 0)],
        rates=[(D(0), 1733, 0), (D(7), 5421, 380), (D(19), 5635, 1071)],
        goods_gross=11794 + 1338,
        total=14240,
    ),
    # Per order: 19 %: 5635 × 0.19 = 1070.65 -> 1071, shared 379.93 / 607.82 / 83.25 -> 380 / 608 / 83;
    #   7 %: 5421 × 0.07 = 379.47 -> 379 (one less than per line), shared 349.497 / 29.503 -> 349 / 30
    #   VAT 1450; total 11794 + 995 + 1450 = 14239
    "de-excluded-order": Expected(
        country="DE",
        prices_include_tax=False,
        rounding="order",
        cross_border="same_gross",
        goods=[(1999, 380), (3198, 608), (4999, 349), (1598, 0)],
        delivery=[(438, 83), (422, 30), (135, 0)],
        rates=[(D(0), 1733, 0), (D(7), 5421, 379), (D(19), 5635, 1071)],
        goods_gross=11794 + 1337,
        total=14239,
    ),
    # Germany, the UK's net price plus German VAT: net = price / 1.2 (standard) or / 1.05 (reduced),
    #   then VAT on that net. Scarf 1999 / 1.2 = 1665.83 -> 1666, × 0.19 = 316.54 -> 317 (gross 1983);
    #   hat 3198 / 1.2 = 2665, × 0.19 = 506.35 -> 506 (3171); seat 4999 / 1.05 = 4760.95 -> 4761,
    #   × 0.07 = 333.27 -> 333 (5094); book zero-rated in both: 1598. Delivery 438 / 1.2 = 365,
    #   × 0.19 = 69.35 -> 69; 422 / 1.05 = 401.90 -> 402, × 0.07 = 28.14 -> 28; 135.
    #   Goods 11846 (not 11794), total 10690 + 902 + 1253 = 12845 (not 12789 as with the same gross)
    "de-net-plus-destination-line": (
        de_net_plus_line := Expected(
            country="DE",
            prices_include_tax=True,
            rounding="line",
            cross_border="net_plus_destination",
            goods=[(1666, 317), (2665, 506), (4761, 333), (1598, 0)],
            delivery=[(365, 69), (402, 28), (135, 0)],
            rates=[(D(0), 1733, 0), (D(7), 5163, 361), (D(19), 4696, 892)],
            goods_gross=11846,
            total=12845,
        )
    ),
    # Per order: 19 %: 316.54 + 506.35 + 69.35 = 892.24 -> 892, shared by 1666 : 2665 : 365:
    #   316.45 / 506.21 / 69.33 -> floors 891, +1 to .45 -> 317 / 506 / 69; 7 %: 333.27 + 28.14 = 361.41
    #   -> 361, shared 332.89 / 28.11 (floors 360, +1 to .89) -> 333 / 28: the same pennies
    "de-net-plus-destination-order": replace(de_net_plus_line, rounding="order"),
    # At home the UK's net price plus UK VAT is the UK price: the same as "uk-included-line".
    "uk-net-plus-destination-line": replace(uk_included_line, cross_border="net_plus_destination"),
}
LINE_RATES = {"GB": [D(20), D(20), D(5), D(0)], "DE": [D(19), D(19), D(7), D(0)]}
DELIVERY = {"GB": 495, "DE": 995}


@pytest.fixture
def basket():
    """The four goods (scarf, hat, car seat, book), their tax rates, and delivery to the UK and Germany."""
    standard = TaxClassFactory(code="standard")
    reduced = TaxClassFactory(code="reduced")
    zero = TaxClassFactory(code="zero")
    for tax_class, uk, germany in [(standard, 20, 19), (reduced, 5, 7), (zero, 0, None)]:
        TaxRateFactory(tax_class=tax_class, country="GB", rate=uk)
        if germany is not None:  # no German rate for zero-rated goods: no rate is 0 %
            TaxRateFactory(tax_class=tax_class, country="DE", rate=germany)
    uk = ShippingMethodFactory(code="standard", name="Standard", price=495)
    ShippingMethodFactory(zone=uk.zone, code="express", name="Express", price=995, position=1)
    europe = ShippingZoneFactory(name="Europe", countries=["DE", "FR"], position=1)
    ShippingMethodFactory(zone=europe, code="standard", name="Standard", price=995)
    category = CategoryFactory()
    variants = []
    for sku, title, price, tax_class in [
        ("SCARF", "Wool Scarf", 1999, None),
        ("HAT", "Felt Hat", 1599, standard),
        ("SEAT", "Child Car Seat", 4999, reduced),
        ("BOOK", "Picture Book", 799, zero),
    ]:
        product = ProductFactory(title=title, category=category, price_from=price, tax_class=tax_class)
        variant = VariantFactory(product=product, sku=sku, price=price)
        StockFactory(variant=variant, on_hand=10)
        variants.append(variant)
    return variants


def _quantities(variants) -> list[tuple]:
    scarf, hat, seat, book = variants
    return [(scarf, 1), (hat, 2), (seat, 1), (book, 2)]


def _tax_settings(settings, expected: Expected) -> None:
    settings.PRICES_INCLUDE_TAX = expected.prices_include_tax
    settings.TAX_ROUNDING = expected.rounding
    settings.TAX_CROSS_BORDER = expected.cross_border


@pytest.mark.parametrize("case", CASES)
def test_order_totals(db, settings, basket, case):
    expected = CASES[case]
    _tax_settings(settings, expected)
    lines = [
        GoodsLine(unit_price=variant.price, quantity=quantity, tax_class_id=variant.product.tax_class_id)
        for variant, quantity in _quantities(basket)
    ]

    totals = order_totals(
        currency="GBP",
        lines=lines,
        delivery=DELIVERY[expected.country],
        rates=country_rates(expected.country),
        rule=tax_rule(),
        tax_name="VAT",
    )

    assert [(line.net, line.tax) for line in totals.lines] == expected.goods
    assert [line.rate for line in totals.lines] == LINE_RATES[expected.country]
    assert [(part.net, part.tax) for part in totals.delivery_parts] == expected.delivery
    assert [(band.rate, band.net, band.tax) for band in totals.by_rate] == expected.rates
    assert (totals.subtotal_net, totals.shipping_net, totals.shipping_tax, totals.tax) == (
        expected.subtotal,
        expected.shipping,
        expected.shipping_tax,
        expected.tax,
    )
    assert (totals.subtotal, totals.total) == (expected.goods_gross, expected.total)
    # The parts always add up: every line's tax is in the total, and the total is net + tax.
    assert sum(line.tax for line in (*totals.lines, *totals.delivery_parts)) == totals.tax
    assert totals.subtotal_net + totals.shipping_net + totals.tax == totals.total
    assert totals.prices_include_tax is expected.prices_include_tax


@pytest.mark.parametrize("case", CASES)
def test_placed_order_keeps_every_penny_and_stripe_is_asked_for_the_total(outside, client, basket, case):
    expected = CASES[case]
    _tax_settings(outside, expected)
    version = fill_cart(client, *_quantities(basket))
    address = GERMAN_ADDRESS if expected.country == "DE" else {}

    response = place(client, version, **address)

    assert response.status_code == 302, response.content.decode()
    order = Order.objects.get()
    assert response["Location"] == f"/order/{order.public_token}/pay/"
    assert (order.country, order.shipping_method_code, order.prices_include_tax) == (
        expected.country,
        "standard",
        expected.prices_include_tax,
    )
    assert (order.subtotal, order.shipping_total, order.shipping_tax, order.tax_total, order.total) == (
        expected.subtotal,
        expected.shipping,
        expected.shipping_tax,
        expected.tax,
        expected.total,
    )
    assert order.goods_gross == expected.goods_gross
    assert order.subtotal + order.shipping_total + order.tax_total == order.total
    lines = [
        (line.sku, line.unit_price, line.quantity, line.line_total, line.net, line.tax, line.tax_rate)
        for line in order.lines.all()
    ]
    rates = LINE_RATES[expected.country]
    assert lines == [
        ("SCARF", 1999, 1, 1999, *expected.goods[0], rates[0]),
        ("HAT", 1599, 2, 3198, *expected.goods[1], rates[1]),
        ("SEAT", 4999, 1, 4999, *expected.goods[2], rates[2]),
        ("BOOK", 799, 2, 1598, *expected.goods[3], rates[3]),
    ]
    assert [(row.rate, row.net, row.tax) for row in OrderTax.objects.filter(order=order)] == expected.rates
    # What Stripe is asked to charge is what the order says was charged.
    intent = stripe_get(outside, f"payment_intents/{Payment.objects.get(order=order).payment_intent_id}")
    assert (intent["amount"], intent["currency"]) == (expected.total, "gbp")


def test_net_plus_destination_makes_the_german_total_differ_from_the_uk_one(outside, client, basket):
    outside.TAX_CROSS_BORDER = "net_plus_destination"
    fill_cart(client, *_quantities(basket))

    uk = client.get("/checkout/totals/", {"country": "GB", "shipping_method": "standard"})
    germany = client.get("/checkout/totals/", {"country": "DE", "shipping_method": "standard"})

    assert (uk.status_code, germany.status_code) == (200, 200)
    # UK: the catalogue prices, 117.94 + 4.95 = 122.89, VAT inside them 11.50 (see "uk-included-line")
    assert 'data-total="total">£122.89<' in uk.json()["summary"]
    assert 'data-total="tax">£11.50<' in uk.json()["summary"]
    # Germany: UK net 106.90 + 9.02 delivery net + German VAT 12.53 = 128.45 (see "de-net-plus-…-line")
    assert 'data-total="total">£128.45<' in germany.json()["summary"]
    assert 'data-total="tax">£12.53<' in germany.json()["summary"]
    assert 'data-total="subtotal">£118.46<' in germany.json()["summary"]


def test_delivery_is_taxed_at_the_goods_rates_by_their_value(db, settings, basket):
    settings.PRICES_INCLUDE_TAX, settings.TAX_ROUNDING = True, "line"
    scarf, hat, seat, book = basket
    rates = country_rates("GB")

    def delivery_taxed(*lines):
        goods = [
            GoodsLine(unit_price=v.price, quantity=q, tax_class_id=v.product.tax_class_id) for v, q in lines
        ]
        totals = order_totals(
            currency="GBP", lines=goods, delivery=495, rates=rates, rule=tax_rule(), tax_name="VAT"
        )
        return [(part.rate, part.net, part.tax) for part in totals.delivery_parts], totals.tax

    # Only standard-rated goods: all of delivery at 20 %, 495 / 6 = 82.5 -> 83 (half up), net 412;
    # VAT 1999 / 6 = 333.17 -> 333, + 83 = 416
    assert delivery_taxed((scarf, 1)) == ([(D(20), 412, 83)], 416)
    # Only zero-rated goods: delivery carries no VAT either
    assert delivery_taxed((book, 1)) == ([(D(0), 495, 0)], 0)
    # Seat 4999 and book 2 × 799 = 1598: 495 × 4999/6597 = 375.10, × 1598/6597 = 119.90
    #   -> floors 494, +1 to .90: 375 at 5 % (375 / 21 = 17.86 -> 18, net 357) and 120 at 0 %
    # VAT 238 + 18 = 256
    assert delivery_taxed((seat, 1), (book, 2)) == ([(D(5), 357, 18), (D(0), 120, 0)], 256)


def test_free_delivery_carries_no_tax(db, settings, basket):
    settings.PRICES_INCLUDE_TAX, settings.TAX_ROUNDING = True, "line"
    scarf, *_ = basket
    goods = [GoodsLine(unit_price=scarf.price, quantity=1, tax_class_id=None)]

    totals = order_totals(
        currency="GBP", lines=goods, delivery=0, rates=country_rates("GB"), rule=tax_rule(), tax_name="VAT"
    )

    # 1999 / 6 = 333.17 -> 333 inside the price; nothing for delivery
    assert (totals.shipping, totals.shipping_tax, totals.tax, totals.total) == (0, 0, 333, 1999)
    assert [(band.rate, band.net, band.tax) for band in totals.by_rate] == [(D(20), 1666, 333)]


def test_goods_of_a_class_with_no_rate_in_the_destination_carry_no_tax(db, settings, basket):
    # France has no rates at all in this shop: every class is 0 % there.
    settings.PRICES_INCLUDE_TAX, settings.TAX_CROSS_BORDER = True, "same_gross"
    scarf, hat, seat, book = basket
    goods = [GoodsLine(unit_price=seat.price, quantity=1, tax_class_id=seat.product.tax_class_id)]

    totals = order_totals(
        currency="GBP", lines=goods, delivery=995, rates=country_rates("FR"), rule=tax_rule(), tax_name="VAT"
    )

    assert (totals.tax, totals.subtotal_net, totals.shipping_net, totals.total) == (0, 4999, 995, 5994)
