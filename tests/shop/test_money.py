from decimal import Decimal

import pytest

from shop.money import Money, format_money, to_major_units, to_minor_units


def test_money_adds_and_multiplies_in_minor_units():
    assert Money(1250, "GBP") + Money(50, "GBP") == Money(1300, "GBP")
    assert Money(1250, "GBP") * 3 == Money(3750, "GBP")
    assert 2 * Money(5, "EUR") == Money(10, "EUR")
    assert Money(1000, "GBP") - Money(1, "GBP") == Money(999, "GBP")


def test_money_refuses_mixed_currencies_and_floats():
    with pytest.raises(ValueError):
        Money(1, "GBP") + Money(1, "EUR")
    with pytest.raises(TypeError):
        Money(12.5, "GBP")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(1, "gbp")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (123450, "GBP", "£1,234.50"),
        (5, "EUR", "€0.05"),
        (-250, "USD", "-$2.50"),
        (500, "JPY", "¥500"),
        (1234, "CHF", "12.34 CHF"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


def test_conversions_round_half_up_and_reject_non_numbers():
    assert to_minor_units(Decimal("12.345"), "GBP") == 1235
    assert to_minor_units("0.1", "GBP") == 10
    assert to_minor_units("12", "JPY") == 12
    assert to_major_units(1999, "GBP") == Decimal("19.99")
    for bad in ["abc", "NaN", "Infinity", ""]:
        with pytest.raises(ValueError):
            to_minor_units(bad, "GBP")
