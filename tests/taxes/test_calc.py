"""Tax arithmetic: half-up rounding, shares that add up, each line's net and tax in every mode.

Every expected number is worked out by hand in the comments beside it; none is read back
from the code under test.
"""

from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

import pytest

from taxes.calc import CrossBorder, Rounding, Taxable, TaxRule, round_half_up, shares, tax_lines

# Rounding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(0), 0),
        (Fraction(1, 2), 1),  # exactly half: up
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # half up, not half to even (which would give 2)
        (Fraction(199, 2), 100),  # 99.5
        (Fraction(4999, 10000), 0),  # 0.4999
        (Fraction(2, 3), 1),
        (Fraction(1999, 6), 333),  # 333.1666…
        (Fraction(5415, 6), 903),  # 902.5
    ],
)
def test_round_half_up(value, rounded):
    assert round_half_up(value) == rounded


# Shares ---------------------------------------------------------------------------------


def test_shares_of_an_even_split_give_the_remainder_to_the_earlier_parts():
    # 10 / 3 = 3.33 each: floors 3 + 3 + 3 = 9, the 1 left goes to the first of the equal remainders
    assert shares(10, [1, 1, 1]) == [4, 3, 3]
    # 2 / 3 = 0.67 each: floors 0, the 2 left go to the first two
    assert shares(2, [1, 1, 1]) == [1, 1, 0]
    assert shares(1, [5, 5]) == [1, 0]


def test_shares_give_the_remainder_to_the_largest_fraction():
    # 5 × 1/4 = 1.25, 5 × 3/4 = 3.75: floors 1 + 3 = 4, the 1 left to the .75
    assert shares(5, [1, 3]) == [1, 4]
    # 100 × 1/6 = 16.67, × 2/6 = 33.33, × 3/6 = 50: floors 99, the 1 left to the .67
    assert shares(100, [1, 2, 3]) == [17, 33, 50]
    # 495 by goods of 5197, 4999 and 1598 (11794): 218.12, 209.81, 67.07 -> floors 494, +1 to the .81
    assert shares(495, [5197, 4999, 1598]) == [218, 210, 67]
    # 995 by the same: 438.44, 421.74, 134.82 -> floors 993, +1 to the .82, +1 to the .74
    assert shares(995, [5197, 4999, 1598]) == [438, 422, 135]


def test_shares_of_fractions_and_of_nothing():
    # 11 by 110/21 and 111/21 (221/21): 5.475 and 5.525 -> floors 10, +1 to the second
    assert shares(11, [Fraction(110, 21), Fraction(111, 21)]) == [5, 6]
    assert shares(0, [3, 4]) == [0, 0]
    assert shares(7, []) == []


def test_shares_of_all_zero_weights_go_to_the_first_part():
    assert shares(7, [0, 0, 0]) == [7, 0, 0]
    assert shares(7, [Fraction(0)]) == [7]


def test_shares_always_add_up_and_stay_within_a_unit_of_their_exact_value():
    weight_sets = [
        [1],
        [1, 1],
        [1, 2, 3],
        [7, 0, 5],
        [1999, 3198, 218],
        [Fraction(1, 3), Fraction(1, 7), Fraction(5, 11)],
        [10**6, 1, 1],
        [3, 3, 3, 3, 3, 3, 3],
    ]
    for weights in weight_sets:
        whole = sum(weights, Fraction(0))
        for total in range(0, 1200):
            parts = shares(total, weights)
            assert sum(parts) == total, (total, weights)
            for part, weight in zip(parts, weights, strict=True):
                exact = Fraction(total) * weight / whole
                assert floor(exact) <= part <= ceil(exact), (total, weights)


# Each line's net and tax -----------------------------------------------------------------

INCLUDED_LINE = TaxRule(prices_include_tax=True, rounding=Rounding.LINE)
INCLUDED_ORDER = TaxRule(prices_include_tax=True, rounding=Rounding.ORDER)
EXCLUDED_LINE = TaxRule(prices_include_tax=False, rounding=Rounding.LINE)
EXCLUDED_ORDER = TaxRule(prices_include_tax=False, rounding=Rounding.ORDER)


def _rule(rule: TaxRule, cross_border: CrossBorder) -> TaxRule:
    return TaxRule(
        prices_include_tax=rule.prices_include_tax, rounding=rule.rounding, cross_border=cross_border
    )


UK = {"standard": (20, 20), "reduced": (5, 5), "zero": (0, 0)}  # (rate, home rate)
GERMANY = {"standard": (19, 20), "reduced": (7, 5), "zero": (0, 0)}

# Three lines of 1.99 at the standard rate, 1.10 and 1.11 at the reduced rate, 5.00 zero-rated.
BASKET = [
    (199, "standard"),
    (199, "standard"),
    (199, "standard"),
    (110, "reduced"),
    (111, "reduced"),
    (500, "zero"),
]


def _basket(rates: dict) -> list[Taxable]:
    return [
        Taxable(amount=amount, rate=Decimal(rates[kind][0]), home_rate=Decimal(rates[kind][1]))
        for amount, kind in BASKET
    ]


def _nets_and_taxes(rule: TaxRule, rates: dict) -> tuple[list[int], list[int]]:
    taxed = tax_lines(_basket(rates), rule)
    return [line.net for line in taxed], [line.tax for line in taxed]


def test_prices_including_tax_rounded_per_line():
    nets, taxes = _nets_and_taxes(INCLUDED_LINE, UK)
    # 199 × 20/120 = 33.17 -> 33 each; 110 × 5/105 = 5.24 -> 5; 111 × 5/105 = 5.29 -> 5; 0 % -> 0
    assert taxes == [33, 33, 33, 5, 5, 0]
    # net = gross − tax
    assert nets == [166, 166, 166, 105, 106, 500]
    assert sum(taxes) == 109  # 99 + 10 + 0


def test_prices_including_tax_rounded_per_order():
    nets, taxes = _nets_and_taxes(INCLUDED_ORDER, UK)
    # 20 %: 597 × 20/120 = 99.5 -> 100 (not 99 as per line), shared 33.33 each: 33 × 3 + 1 to the first
    # 5 %: 221 × 5/105 = 10.52 -> 11 (not 10 as per line), shared 5.475 / 5.525: 5 + 5, +1 to the second
    assert taxes == [34, 33, 33, 5, 6, 0]
    assert nets == [165, 166, 166, 105, 105, 500]
    assert sum(taxes) == 111  # 100 + 11 + 0


def test_prices_excluding_tax_rounded_per_line():
    nets, taxes = _nets_and_taxes(EXCLUDED_LINE, UK)
    # 199 × 0.2 = 39.8 -> 40 each; 110 × 0.05 = 5.5 -> 6 (half up); 111 × 0.05 = 5.55 -> 6
    assert taxes == [40, 40, 40, 6, 6, 0]
    assert nets == [199, 199, 199, 110, 111, 500]  # the price is the net
    assert sum(taxes) == 132  # 120 + 12


def test_prices_excluding_tax_rounded_per_order():
    nets, taxes = _nets_and_taxes(EXCLUDED_ORDER, UK)
    # 20 %: 597 × 0.2 = 119.4 -> 119 (not 120), shared 39.67 each: 39 × 3, +1 to the first two
    # 5 %: 221 × 0.05 = 11.05 -> 11 (not 12), shared 5.475 / 5.525: 5 + 5, +1 to the second
    assert taxes == [40, 40, 39, 5, 6, 0]
    assert nets == [199, 199, 199, 110, 111, 500]
    assert sum(taxes) == 130  # 119 + 11


@pytest.mark.parametrize("rule", [INCLUDED_LINE, INCLUDED_ORDER])
def test_same_gross_abroad_keeps_the_price_and_takes_the_destinations_tax_out_of_it(rule):
    nets, taxes = _nets_and_taxes(_rule(rule, CrossBorder.SAME_GROSS), GERMANY)
    if rule.rounding == Rounding.LINE:
        # 199 × 19/119 = 31.77 -> 32 each; 110 × 7/107 = 7.20 -> 7; 111 × 7/107 = 7.26 -> 7
        assert taxes == [32, 32, 32, 7, 7, 0]
        assert nets == [167, 167, 167, 103, 104, 500]
        assert sum(taxes) == 110  # 96 + 14
    else:
        # 19 %: 597 × 19/119 = 95.32 -> 95, shared 31.67 each: 31 × 3, +1 to the first two
        # 7 %: 221 × 7/107 = 14.46 -> 14, shared 6.97 / 7.03: 6 + 7, +1 to the first
        assert taxes == [32, 32, 31, 7, 7, 0]
        assert nets == [167, 167, 168, 103, 104, 500]
        assert sum(taxes) == 109  # 95 + 14
    # The shopper pays the catalogue price, whatever the tax inside it.
    assert [net + tax for net, tax in zip(nets, taxes, strict=True)] == [amount for amount, _ in BASKET]


def test_net_plus_destination_takes_the_home_tax_off_and_adds_the_destinations_per_line():
    nets, taxes = _nets_and_taxes(_rule(INCLUDED_LINE, CrossBorder.NET_PLUS_DESTINATION), GERMANY)
    # net 199 / 1.2 = 165.83 -> 166, tax 166 × 0.19 = 31.54 -> 32 (gross 198, not 199)
    # net 110 / 1.05 = 104.76 -> 105, tax 105 × 0.07 = 7.35 -> 7 (gross 112)
    # net 111 / 1.05 = 105.71 -> 106, tax 106 × 0.07 = 7.42 -> 7 (gross 113)
    # zero-rated at home and there: the price stays 500, no tax
    assert nets == [166, 166, 166, 105, 106, 500]
    assert taxes == [32, 32, 32, 7, 7, 0]
    assert [net + tax for net, tax in zip(nets, taxes, strict=True)] == [198, 198, 198, 112, 113, 500]


def test_net_plus_destination_rounded_per_order():
    nets, taxes = _nets_and_taxes(_rule(INCLUDED_ORDER, CrossBorder.NET_PLUS_DESTINATION), GERMANY)
    # 19 %: 3 × 31.54 = 94.62 -> 95, shared 31.67 each: 31 × 3, +1 to the first two
    # 7 %: 7.35 + 7.42 = 14.77 -> 15, shared 7.46 / 7.54: 7 + 7, +1 to the second
    assert nets == [166, 166, 166, 105, 106, 500]
    assert taxes == [32, 32, 31, 7, 8, 0]


def test_net_plus_destination_at_home_is_the_same_gross_price():
    # At home the rate is the home rate: the tax is inside the price, as in the per-line and
    # per-order tests above.
    line = _nets_and_taxes(_rule(INCLUDED_LINE, CrossBorder.NET_PLUS_DESTINATION), UK)
    order = _nets_and_taxes(_rule(INCLUDED_ORDER, CrossBorder.NET_PLUS_DESTINATION), UK)
    assert line == ([166, 166, 166, 105, 106, 500], [33, 33, 33, 5, 5, 0])
    assert order == ([165, 166, 166, 105, 105, 500], [34, 33, 33, 5, 6, 0])


@pytest.mark.parametrize("cross_border", list(CrossBorder))
def test_prices_excluding_tax_abroad_add_the_destinations_tax_to_the_price(cross_border):
    line = _nets_and_taxes(_rule(EXCLUDED_LINE, cross_border), GERMANY)
    order = _nets_and_taxes(_rule(EXCLUDED_ORDER, cross_border), GERMANY)
    # 199 × 0.19 = 37.81 -> 38 each; 110 × 0.07 = 7.7 -> 8; 111 × 0.07 = 7.77 -> 8
    assert line == ([199, 199, 199, 110, 111, 500], [38, 38, 38, 8, 8, 0])
    # 19 %: 597 × 0.19 = 113.43 -> 113, shared 37.67 each: 37 × 3, +1 to the first two
    # 7 %: 221 × 0.07 = 15.47 -> 15, shared 7.47 / 7.53: 7 + 7, +1 to the second
    assert order == ([199, 199, 199, 110, 111, 500], [38, 38, 37, 7, 8, 0])


def test_a_rate_with_a_fraction_and_an_empty_order():
    # France's 5.5 %: 1000 × 5.5/105.5 = 52.13 -> 52 included; 1000 × 0.055 = 55 on top
    line = [Taxable(amount=1000, rate=Decimal("5.5"), home_rate=Decimal("5.5"))]
    assert [(t.net, t.tax) for t in tax_lines(line, INCLUDED_LINE)] == [(948, 52)]
    assert [(t.net, t.tax) for t in tax_lines(line, EXCLUDED_ORDER)] == [(1000, 55)]
    assert tax_lines([], INCLUDED_ORDER) == []


# Properties over many amounts -------------------------------------------------------------

RATES = [Decimal(0), Decimal(5), Decimal("5.5"), Decimal(7), Decimal(19), Decimal(20), Decimal("22.5")]
ALL_RULES = [
    _rule(rule, cross_border)
    for rule in (INCLUDED_LINE, INCLUDED_ORDER, EXCLUDED_LINE, EXCLUDED_ORDER)
    for cross_border in CrossBorder
]


def test_included_prices_split_into_net_and_tax_that_add_up_to_the_price():
    for rate in RATES:
        fraction = Fraction(rate) / 100
        for amount in range(0, 2500):
            (taxed,) = tax_lines([Taxable(amount=amount, rate=rate, home_rate=rate)], INCLUDED_LINE)
            assert taxed.net + taxed.tax == taxed.gross == amount, (amount, rate)
            # within half a penny of the exact tax inside the price, halves up
            exact = Fraction(amount) * fraction / (1 + fraction)
            assert exact - Fraction(1, 2) < taxed.tax <= exact + Fraction(1, 2), (amount, rate)


def test_excluded_prices_keep_the_price_as_net_and_round_the_tax_half_up():
    for rate in RATES:
        for amount in range(0, 2500):
            (taxed,) = tax_lines([Taxable(amount=amount, rate=rate, home_rate=rate)], EXCLUDED_LINE)
            exact = Fraction(amount) * Fraction(rate) / 100
            assert taxed.net == amount, (amount, rate)
            assert exact - Fraction(1, 2) < taxed.tax <= exact + Fraction(1, 2), (amount, rate)


def _exact_tax(line: Taxable, rule: TaxRule) -> Fraction:
    """The exact tax on a line, worked out here from first principles."""
    rate, home = Fraction(line.rate) / 100, Fraction(line.home_rate) / 100
    if not rule.prices_include_tax:
        return line.amount * rate
    if rule.cross_border == CrossBorder.NET_PLUS_DESTINATION and rate != home:
        return floor(Fraction(line.amount) / (1 + home) + Fraction(1, 2)) * rate
    return line.amount * rate / (1 + rate)


def test_per_order_rounding_rounds_each_rates_exact_sum_once_and_the_lines_add_up_to_it():
    for start in range(1, 400, 7):
        amounts = [start, start * 3 + 1, start * 5 + 2, start + 99, 2 * start]
        rates = [Decimal(20), Decimal(20), Decimal(5), Decimal(20), Decimal(5)]
        homes = [Decimal(19), Decimal(19), Decimal(7), Decimal(19), Decimal(7)]
        lines = [
            Taxable(amount=a, rate=r, home_rate=h) for a, r, h in zip(amounts, rates, homes, strict=True)
        ]
        for rule in ALL_RULES:
            taxed = tax_lines(lines, rule)
            assert [t.rate for t in taxed] == rates
            for rate in set(rates):
                group = [i for i, r in enumerate(rates) if r == rate]
                exact = sum((_exact_tax(lines[i], rule) for i in group), Fraction(0))
                per_line = sum(floor(_exact_tax(lines[i], rule) + Fraction(1, 2)) for i in group)
                expected = floor(exact + Fraction(1, 2)) if rule.rounding == Rounding.ORDER else per_line
                assert sum(taxed[i].tax for i in group) == expected, (start, rule, rate)
            same_gross = rule.prices_include_tax and rule.cross_border == CrossBorder.SAME_GROSS
            if same_gross:
                assert [t.gross for t in taxed] == amounts, (start, rule)
