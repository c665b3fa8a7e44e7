"""What the checkout page showed, so that no price changes between it and placement unseen.

The page carries a signed copy of what it showed: each line's variant, quantity and
unit price, the delivery country and method, and the delivery, tax and total worked out
for them. Placement never takes a price from it; it compares it with the order priced
again from the database, and refuses the order, naming what changed, when they differ
(a price or tax rate, a delivery option switched off, or a country or method chosen without the
page's totals following). The shopper sees the new totals and confirms by placing again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from shop.money import format_money

_SALT = "checkout.quote"


class QuoteInvalid(ValueError):
    """The checkout form's copy of the prices was not made by us (or has been altered)."""


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: dict[int, tuple[int, int]]  # variant id -> (quantity, unit price)
    country: str
    method: str  # the delivery method's code, "" when none was offered
    delivery: int
    tax: int
    total: int
    method_name: str = ""
    discount_codes: tuple[str, ...] = ()  # the codes whose discounts the totals include

    def sign(self) -> str:
        """Return the quote as a signed string for the checkout form."""
        payload = {
            "c": self.currency,
            "l": [[variant, quantity, price] for variant, (quantity, price) in sorted(self.lines.items())],
            "k": self.country,
            "m": self.method,
            "d": self.delivery,
            "x": self.tax,
            "t": self.total,
            "n": self.method_name,
            "dc": list(self.discount_codes),
        }
        return signing.dumps(payload, salt=_SALT, compress=True)


def _codes(value) -> tuple[str, ...]:
    """Return the quote's codes (a page signed before codes could combine carries one, or "")."""
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(code) for code in value)


def quote_read(value: str) -> Quote:
    """Return the quote signed into `value`; raise QuoteInvalid if it is not one of ours."""
    try:
        payload = signing.loads(value, salt=_SALT)
        return Quote(
            currency=str(payload["c"]),
            lines={int(variant): (int(quantity), int(price)) for variant, quantity, price in payload["l"]},
            country=str(payload["k"]),
            method=str(payload["m"]),
            delivery=int(payload["d"]),
            tax=int(payload["x"]),
            total=int(payload["t"]),
            method_name=str(payload.get("n", "")),
            discount_codes=_codes(payload.get("dc", [])),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise QuoteInvalid() from error


@dataclass(frozen=True)
class PricedLine:
    variant_id: int
    title: str
    quantity: int
    unit_price: int


@dataclass(frozen=True)
class Choice:
    """The delivery chosen, as placement prices it."""

    country: str
    country_name: str
    method: str
    method_name: str
    delivery: int
    tax: int
    total: int


def quote_changes(*, seen: Quote, currency: str, lines: list[PricedLine], choice: Choice) -> list[str]:
    """Return, in plain words, how the order now differs from what the shopper saw (empty: not at all)."""
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
    tax_changed = seen.tax != choice.tax and seen.delivery == choice.delivery
    if tax_changed and (seen.country, seen.method) == (choice.country, choice.method) and not changes:
        # Prices that include tax keep their total when a rate changes; the tax in it does not.
        changes.append(
            f"The tax rate for delivery to {choice.country_name} has changed: the tax in your order is "
            f"now {money(choice.tax)} (it was {money(seen.tax)})."
        )
    if seen.total != choice.total or seen.delivery != choice.delivery:
        if (seen.country, seen.method) != (choice.country, choice.method):
            changes.append(
                f"The totals below are for delivery to {choice.country_name} ({choice.method_name})."
            )
        elif seen.delivery != choice.delivery:
            changes.append(
                f"Delivery ({choice.method_name}) now costs {money(choice.delivery)} "
                f"(it was {money(seen.delivery)})."
            )
        changes.append(f"Your total is now {money(choice.total)} (it was {money(seen.total)}).")
    if seen.currency != currency and not changes:
        changes.append(f"Prices are now in {currency}.")
    return changes
