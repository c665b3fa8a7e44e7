"""What the checkout page showed, so that no price changes between it and placement unseen.

The page carries a signed copy of the prices it was worked out from: each line's
variant, quantity and unit price, each delivery option's price, and each tax rate.
Placement never takes a price from it; it only compares it with the prices read
again from the database, and refuses the order, naming what changed, when they
differ. The shopper sees the new totals and confirms by placing the order again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core import signing

from shop.money import format_money

_SALT = "checkout.quote"


class QuoteInvalid(ValueError):
    """The checkout form's copy of the prices was not made by us (or has been altered)."""


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: dict[int, tuple[int, int]]  # variant id -> (quantity, unit price)
    methods: dict[str, tuple[int, int | None]]  # delivery code -> (price, free over)
    rates: dict[str, Decimal]  # country -> tax rate

    def sign(self) -> str:
        """Return the quote as a signed string for the checkout form."""
        payload = {
            "c": self.currency,
            "l": [[variant, quantity, price] for variant, (quantity, price) in sorted(self.lines.items())],
            "m": [[code, price, free_over] for code, (price, free_over) in sorted(self.methods.items())],
            "r": [[country, str(rate)] for country, rate in sorted(self.rates.items())],
        }
        return signing.dumps(payload, salt=_SALT, compress=True)


def quote_read(value: str) -> Quote:
    """Return the quote signed into `value`; raise QuoteInvalid if it is not one of ours."""
    try:
        payload = signing.loads(value, salt=_SALT)
        return Quote(
            currency=str(payload["c"]),
            lines={int(variant): (int(quantity), int(price)) for variant, quantity, price in payload["l"]},
            methods={
                str(code): (int(price), None if free_over is None else int(free_over))
                for code, price, free_over in payload["m"]
            },
            rates={str(country): Decimal(rate) for country, rate in payload["r"]},
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise QuoteInvalid() from error


def quote_make(
    *,
    currency: str,
    lines: Iterable[tuple[int, int, int]],
    methods: Iterable[tuple[str, int, int | None]],
    rates: Iterable[tuple[str, Decimal]],
) -> Quote:
    """Return the quote for (variant, quantity, unit price) lines, delivery options and tax rates."""
    return Quote(
        currency=currency,
        lines={variant: (quantity, price) for variant, quantity, price in lines},
        methods={code: (price, free_over) for code, price, free_over in methods},
        rates={country: Decimal(rate) for country, rate in rates},
    )


@dataclass(frozen=True)
class PricedLine:
    variant_id: int
    title: str
    quantity: int
    unit_price: int


def quote_changes(
    *,
    seen: Quote,
    currency: str,
    lines: list[PricedLine],
    method: tuple[str, str, int, int | None],
    country: tuple[str, str, Decimal | None],
) -> list[str]:
    """Return, in plain words, how the prices now differ from those the shopper saw (empty: none).

    `method` is the chosen delivery option (code, name, price, free over) and `country`
    the delivery country (code, name, tax rate or None when it has none).
    """
    changes = []

    def money(amount: int) -> str:
        return format_money(amount, currency)

    for line in lines:
        quantity, price = seen.lines.get(line.variant_id, (None, None))
        if price is None or quantity != line.quantity:
            changes.append(f"{line.title} was not in your order summary as it is now.")
        elif price != line.unit_price:
            changes.append(f"{line.title} now costs {money(line.unit_price)} (it was {money(price)}).")
    if len(seen.lines) != len(lines) and not changes:
        changes.append("An item in your order summary is no longer in your cart.")
    code, name, price, free_over = method
    if code not in seen.methods:
        changes.append(f"{name} delivery was not offered when you opened this page.")
    elif seen.methods[code] != (price, free_over):
        seen_price, seen_free_over = seen.methods[code]
        if seen_price != price:
            changes.append(f"{name} delivery now costs {money(price)} (it was {money(seen_price)}).")
        else:
            changes.append(f"The order value for free {name} delivery has changed.")
    country_code, country_name, rate = country
    if seen.rates.get(country_code) != rate:
        changes.append(f"The tax rate for delivery to {country_name} has changed.")
    if seen.currency != currency and not changes:
        changes.append(f"Prices are now in {currency}.")
    return changes
