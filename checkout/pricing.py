"""An order's money, computed on the server only: each line's net, tax and gross, delivery
taxed at the rate of the goods (shared out by their value when the rates are mixed), the tax
per rate, and totals that the parts always add up to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from promotions.services import Discounts
from shipping.selectors import Basket, DeliveryOffer
from taxes.calc import Taxable, Taxed, TaxRule, shares, tax_lines
from taxes.rules import CountryRates, tax_rule


@dataclass(frozen=True)
class GoodsLine:
    """A line as the cart holds it: its catalogue unit price, quantity and tax class."""

    unit_price: int
    quantity: int
    tax_class_id: int | None
    grams: int = 0  # the line's packed weight (unit weight × quantity)

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


def delivery_basket(lines: Sequence[GoodsLine], discounts: Discounts | None) -> Basket:
    """Return what delivery is priced on: the goods' value (at sale prices) less what codes take off
    them, and their weight (one rule for the cart, the checkout page and placement)."""
    off = sum(discounts.lines(len(lines))) if discounts else 0
    return Basket(value=sum(line.amount for line in lines) - off, grams=sum(line.grams for line in lines))


@dataclass(frozen=True)
class RateTotal:
    rate: Decimal
    net: int
    tax: int

    @property
    def gross(self) -> int:
        return self.net + self.tax


@dataclass(frozen=True)
class CodeTotal:
    """What one code took off, as the catalogue prices carry tax: from the goods and from delivery."""

    code: str
    name: str
    promotion_id: int
    goods: int
    delivery: int = 0

    @property
    def amount(self) -> int:
        return self.goods + self.delivery

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True)
class Totals:
    currency: str
    prices_include_tax: bool
    tax_name: str
    lines: tuple[Taxed, ...]
    delivery_parts: tuple[Taxed, ...]
    by_rate: tuple[RateTotal, ...]
    # What the codes took off (as the catalogue prices carry tax), before tax was worked out:
    # all codes together per line and off delivery, and each code's part.
    discount_lines: tuple[int, ...] = ()
    discount_delivery: int = 0
    codes: tuple[CodeTotal, ...] = ()

    @property
    def discount_codes(self) -> tuple[str, ...]:
        return tuple(code.code for code in self.codes)

    @property
    def discount_total(self) -> int:
        return sum(self.discount_lines) + self.discount_delivery

    @property
    def subtotal(self) -> int:
        """The goods, gross."""
        return sum(line.gross for line in self.lines)

    @property
    def subtotal_net(self) -> int:
        return sum(line.net for line in self.lines)

    @property
    def shipping(self) -> int:
        """Delivery, gross."""
        return sum(part.gross for part in self.delivery_parts)

    @property
    def shipping_net(self) -> int:
        return sum(part.net for part in self.delivery_parts)

    @property
    def shipping_tax(self) -> int:
        return sum(part.tax for part in self.delivery_parts)

    @property
    def tax(self) -> int:
        return sum(band.tax for band in self.by_rate)

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping

    @property
    def shown_subtotal(self) -> int:
        """The goods as the page lists them, before any discount: gross when prices include tax, else net."""
        goods = self.subtotal if self.prices_include_tax else self.subtotal_net
        return goods + sum(self.discount_lines)

    @property
    def shown_shipping(self) -> int:
        """Delivery as the page lists it, before any discount (so the rows add up to the total)."""
        return (self.shipping if self.prices_include_tax else self.shipping_net) + self.discount_delivery


def _delivery_parts(delivery: int, goods: Sequence[Taxable], before: Sequence[int]) -> list[Taxable]:
    """Return delivery as one taxable part per rate of the goods, shared out by the goods' value
    (by their value `before` a discount when it left them costing nothing)."""
    weights = [line.amount for line in goods] if any(line.amount for line in goods) else list(before)
    groups: dict[tuple[Decimal, Decimal], int] = {}
    for line, weight in zip(goods, weights, strict=True):
        key = (line.rate, line.home_rate)
        groups[key] = groups.get(key, 0) + weight
    if not groups:
        return [Taxable(amount=delivery, rate=Decimal(0), home_rate=Decimal(0))] if delivery else []
    parts = shares(delivery, list(groups.values()))
    return [
        Taxable(amount=part, rate=rate, home_rate=home_rate)
        for (rate, home_rate), part in zip(groups, parts, strict=True)
        if part or len(groups) == 1
    ]


def order_totals(
    *,
    currency: str,
    lines: Sequence[GoodsLine],
    delivery: int,
    rates: CountryRates,
    rule: TaxRule,
    tax_name: str,
    discounts: Discounts | None = None,
) -> Totals:
    """Return the order's money for goods `lines` and a `delivery` price, both as the catalogue
    prices them (after any sale), delivered where `rates` apply, less what the `discounts` codes
    take off (tax follows)."""
    discounts = discounts or Discounts()
    off_lines = discounts.lines(len(lines))
    free = discounts.free_delivery
    off_delivery = delivery if free else 0
    delivery -= off_delivery
    goods = [
        Taxable(
            amount=line.amount - off,
            rate=rates.rate(line.tax_class_id),
            home_rate=rates.home_rate(line.tax_class_id),
        )
        for line, off in zip(lines, off_lines, strict=True)
    ]
    parts = _delivery_parts(delivery, goods, [line.amount for line in lines])
    taxed = tax_lines([*goods, *parts], rule)
    by_rate: dict[Decimal, tuple[int, int]] = {}
    for item in taxed:
        net, tax = by_rate.get(item.rate, (0, 0))
        by_rate[item.rate] = (net + item.net, tax + item.tax)
    return Totals(
        currency=currency,
        prices_include_tax=rule.prices_include_tax,
        tax_name=tax_name,
        lines=tuple(taxed[: len(goods)]),
        delivery_parts=tuple(taxed[len(goods) :]),
        by_rate=tuple(RateTotal(rate=rate, net=net, tax=tax) for rate, (net, tax) in sorted(by_rate.items())),
        discount_lines=tuple(off_lines),
        discount_delivery=off_delivery,
        codes=tuple(
            CodeTotal(
                code=found.code,
                name=found.name,
                promotion_id=found.promotion_id,
                goods=found.reduction.total,
                delivery=off_delivery if found is free else 0,
            )
            for found in discounts.applied
        ),
    )


@dataclass(frozen=True)
class CheckoutPrice:
    """The delivery options for a country and the order's money with the one chosen."""

    country: str
    offers: tuple[DeliveryOffer, ...]
    offer: DeliveryOffer | None  # the chosen option; None when none delivers there
    totals: Totals


def checkout_price(
    *,
    currency: str,
    country: str,
    lines: Sequence[GoodsLine],
    offers: Sequence[DeliveryOffer],
    method_code: str | None,
    rates: CountryRates,
    discounts: Discounts | None = None,
) -> CheckoutPrice:
    """Return the money for the method `method_code` among `offers` (the first when it is not one)."""
    offer = next((o for o in offers if o.code == method_code), offers[0] if offers else None)
    totals = order_totals(
        currency=currency,
        lines=lines,
        delivery=offer.price if offer else 0,
        rates=rates,
        rule=tax_rule(),
        tax_name=settings.TAX_NAME,
        discounts=discounts,
    )
    return CheckoutPrice(country=country, offers=tuple(offers), offer=offer, totals=totals)
