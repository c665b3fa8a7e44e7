"""Order totals, computed on the server only."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal: int
    shipping: int
    tax_name: str
    tax_rate: Decimal
    tax: int

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping + self.tax


def tax_amount(*, taxable: int, rate: Decimal) -> int:
    """Return tax on `taxable` minor units at `rate`, rounded half up to a whole minor unit."""
    return int((Decimal(taxable) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def totals_compute(
    *,
    currency: str,
    subtotal: int,
    shipping_price: int,
    free_over: int | None,
    tax_name: str,
    tax_rate: Decimal,
) -> Totals:
    """Return the totals: shipping (free past its threshold) and tax on goods plus shipping."""
    shipping = 0 if free_over is not None and subtotal >= free_over else shipping_price
    return Totals(
        currency=currency,
        subtotal=subtotal,
        shipping=shipping,
        tax_name=tax_name,
        tax_rate=tax_rate,
        tax=tax_amount(taxable=subtotal + shipping, rate=tax_rate),
    )
