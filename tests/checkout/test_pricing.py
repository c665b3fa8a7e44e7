from decimal import Decimal
from fractions import Fraction

import pytest

from checkout.pricing import GoodsLine, checkout_price, order_totals
from shipping.selectors import Basket, delivery_offers
from taxes.calc import Taxable, TaxRule, round_half_up, tax_lines
from taxes.rules import CountryRates
from tests.factories import ShippingMethodFactory

UK_VAT = CountryRates(country="GB", rows=[(1, "standard", "GB", Decimal(20))])


def totals_for(*, unit_price: int, delivery: int, prices_include_tax: bool):
    return order_totals(
        currency="GBP",
        lines=[GoodsLine(unit_price=unit_price, quantity=1, tax_class_id=None)],
        delivery=delivery,
        rates=UK_VAT,
        rule=TaxRule(prices_include_tax=prices_include_tax),
        tax_name="VAT",
    )


def test_totals_are_goods_and_delivery_with_the_vat_inside_them():
    totals = totals_for(unit_price=2999, delivery=495, prices_include_tax=True)

    # VAT inside 2999: 2999*20/120 = 499.83 -> 500; inside 495: 495*20/120 = 82.5 -> 83.
    assert (totals.subtotal, totals.shipping, totals.tax, totals.total) == (2999, 495, 583, 3494)
    assert (totals.subtotal_net, totals.shipping_net, totals.shipping_tax) == (2499, 412, 83)
    assert [(band.rate, band.net, band.tax) for band in totals.by_rate] == [(Decimal(20), 2911, 583)]


def test_totals_add_tax_on_goods_and_delivery_when_prices_exclude_it():
    totals = totals_for(unit_price=2999, delivery=495, prices_include_tax=False)

    # VAT on top: 2999*0.2 = 599.8 -> 600 and 495*0.2 = 99; 2999 + 495 + 699 = 4193.
    assert (totals.subtotal_net, totals.shipping_net, totals.tax, totals.total) == (2999, 495, 699, 4193)
    assert (totals.shown_subtotal, totals.shown_shipping) == (2999, 495)


@pytest.mark.django_db
def test_delivery_is_free_from_the_threshold():
    standard = ShippingMethodFactory(code="standard", price=495, free_over=7500)
    ShippingMethodFactory(zone=standard.zone, code="express", price=995, position=1)

    def delivery(code: str, goods: int) -> int:
        offers = delivery_offers(country="GB", basket=Basket(value=goods, grams=0))
        price = checkout_price(
            currency="GBP",
            country="GB",
            lines=[GoodsLine(unit_price=goods, quantity=1, tax_class_id=None)],
            offers=offers,
            method_code=code,
            rates=UK_VAT,
        )
        assert price.offer.code == code
        return price.totals.shipping

    at, below, never = delivery("standard", 7500), delivery("standard", 7499), delivery("express", 10**7)
    assert (at, below, never) == (0, 495, 995)


def test_tax_rounds_half_up_to_a_whole_minor_unit():
    def tax(amount: int, rate: str, *, prices_include_tax: bool = False) -> int:
        line = Taxable(amount=amount, rate=Decimal(rate), home_rate=Decimal(rate))
        [taxed] = tax_lines([line], TaxRule(prices_include_tax=prices_include_tax))
        return taxed.tax

    assert tax(1, "50") == 1  # 0.5
    assert tax(3, "19") == 1  # 0.57
    assert tax(2, "20") == 0  # 0.4
    assert tax(12345, "23") == 2839  # 2839.35
    assert tax(9, "20", prices_include_tax=True) == 2  # 9*20/120 = 1.5
    assert tax(6500, "20", prices_include_tax=True) == 1083  # 1083.33
    assert tax(7, "20", prices_include_tax=True) == 1  # 1.17
    assert round_half_up(Fraction(5, 2)) == 3 and round_half_up(Fraction(7, 3)) == 2
