"""Tax arithmetic on integer minor units: exact fractions, rounded half up to a whole minor unit
once per line (or once per rate, by setting), parts that always add up to their whole.

Rates are percentages (Decimal("20") for 20 %). A line's `amount` is its price as the
catalogue gives it (unit price × quantity), which includes tax or not by the shop's setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor


class Rounding(StrEnum):
    LINE = "line"  # each line's tax rounded on its own
    ORDER = "order"  # each rate's tax rounded once over the order, then shared out to its lines


class CrossBorder(StrEnum):
    SAME_GROSS = "same_gross"  # the shopper pays the shown price everywhere; the tax inside it varies
    NET_PLUS_DESTINATION = "net_plus_destination"  # the home country's net price plus the destination's tax


@dataclass(frozen=True)
class TaxRule:
    """How the shop's prices carry tax (from the settings)."""

    prices_include_tax: bool = True
    rounding: Rounding = Rounding.LINE
    cross_border: CrossBorder = CrossBorder.SAME_GROSS


@dataclass(frozen=True)
class Taxable:
    """A line to tax: its catalogue amount, the destination's rate and the home country's rate."""

    amount: int
    rate: Decimal
    home_rate: Decimal


@dataclass(frozen=True)
class Taxed:
    net: int
    tax: int
    rate: Decimal

    @property
    def gross(self) -> int:
        return self.net + self.tax


def round_half_up(value: Fraction) -> int:
    """Return `value` (not negative) rounded to a whole number, halves up."""
    return floor(value + Fraction(1, 2))


def shares(total: int, weights: Sequence[Fraction | int]) -> list[int]:
    """Split `total` in proportion to `weights` into whole parts that add up to it exactly
    (largest remainder; equal remainders go to the earlier part). All weights 0: all to the first."""
    whole = sum(weights, Fraction(0))
    if not weights:
        return []
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    exact = [Fraction(total) * weight / whole for weight in weights]
    parts = [floor(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _exact(line: Taxable, rule: TaxRule) -> tuple[Fraction, Fraction | None]:
    """Return the line's net (exact, or already whole) and its exact tax; None: tax is gross − net."""
    rate, amount = Fraction(line.rate) / 100, Fraction(line.amount)
    if not rule.prices_include_tax:
        return amount, amount * rate
    if rule.cross_border == CrossBorder.NET_PLUS_DESTINATION and line.rate != line.home_rate:
        # The net price is the catalogue price less the home country's tax, a price in its own right.
        net = round_half_up(amount / (1 + Fraction(line.home_rate) / 100))
        return Fraction(net), net * rate
    # The gross is the catalogue price; the tax is the part of it that the rate makes up.
    return amount, amount * rate / (1 + rate)


def tax_lines(lines: Sequence[Taxable], rule: TaxRule) -> list[Taxed]:
    """Return each line's net and tax, in the order given."""
    exact = [_exact(line, rule) for line in lines]
    taxes = [round_half_up(tax) for _base, tax in exact]
    if rule.rounding == Rounding.ORDER:
        for rate in {line.rate for line in lines}:
            group = [i for i, line in enumerate(lines) if line.rate == rate]
            total = round_half_up(sum((exact[i][1] for i in group), Fraction(0)))
            for i, part in zip(group, shares(total, [exact[i][1] for i in group]), strict=True):
                taxes[i] = part
    taxed = []
    for line, (base, _tax), tax in zip(lines, exact, taxes, strict=True):
        inside = rule.prices_include_tax and not (
            rule.cross_border == CrossBorder.NET_PLUS_DESTINATION and line.rate != line.home_rate
        )
        # Tax inside a gross price: the gross stays the price, the net is what is left.
        net = line.amount - tax if inside else int(base)
        taxed.append(Taxed(net=net, tax=tax, rate=line.rate))
    return taxed
