"""Money in integer minor units plus an ISO 4217 currency code. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor-unit exponents for the currencies the shop may sell in; 2 unless listed.
_EXPONENTS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}


def currency_symbol(currency: str) -> str:
    """Return the sign written before amounts of the currency ("£"), or its code."""
    return _SYMBOLS.get(currency.upper(), currency.upper())


def currency_exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has."""
    return _EXPONENTS.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"invalid currency code {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise ValueError(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            return NotImplemented
        return Money(self.amount * quantity, self.currency)

    __rmul__ = __mul__

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


def format_money(amount: int, currency: str) -> str:
    """Return the amount of minor units formatted for display, e.g. '£1,234.50'."""
    exponent = currency_exponent(currency)
    major = Decimal(amount).scaleb(-exponent)
    sign = "-" if major < 0 else ""
    number = f"{abs(major):,.{exponent}f}"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency.upper()}"


def to_minor_units(value: Decimal | str, currency: str) -> int:
    """Return `value` in major units (e.g. Decimal('12.50')) as integer minor units.

    Rounds half up at the currency's precision; raises ValueError for anything
    that is not a finite number.
    """
    try:
        decimal_value = Decimal(value)
    except (InvalidOperation, TypeError) as error:
        raise ValueError(f"not a number: {value!r}") from error
    if not decimal_value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    exponent = currency_exponent(currency)
    return int(decimal_value.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major_units(amount: int, currency: str) -> Decimal:
    """Return integer minor units as a Decimal in major units."""
    return Decimal(amount).scaleb(-currency_exponent(currency))
