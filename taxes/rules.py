"""The shop's tax settings as one rule, and the rates that apply to a delivery country."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from taxes.calc import CrossBorder, Rounding, TaxRule
from taxes.models import TaxRate

ZERO = Decimal(0)


def tax_rule() -> TaxRule:
    """Return how prices carry tax, from PRICES_INCLUDE_TAX, TAX_ROUNDING and TAX_CROSS_BORDER."""
    try:
        return TaxRule(
            prices_include_tax=settings.PRICES_INCLUDE_TAX,
            rounding=Rounding(settings.TAX_ROUNDING),
            cross_border=CrossBorder(settings.TAX_CROSS_BORDER),
        )
    except ValueError as error:
        raise ImproperlyConfigured(
            f"TAX_ROUNDING must be one of {[r.value for r in Rounding]} and TAX_CROSS_BORDER one of "
            f"{[c.value for c in CrossBorder]}: {error}"
        ) from error


def tax_note() -> str:
    """Return how shown prices carry tax, e.g. "incl. VAT" (for the words beside a price)."""
    return f"{'incl.' if settings.PRICES_INCLUDE_TAX else 'excl.'} {settings.TAX_NAME}"


class CountryRates:
    """The rates of each tax class for one destination, beside the home country's."""

    def __init__(self, *, country: str, rows: list[tuple[int, str, str, Decimal]]) -> None:
        self.country = country
        self._rates: dict[tuple[str, int | None], Decimal] = {}
        for class_id, code, rate_country, rate in rows:
            self._rates[(rate_country, class_id)] = rate
            if code == settings.TAX_DEFAULT_CLASS:
                self._rates[(rate_country, None)] = rate

    def rate(self, class_id: int | None) -> Decimal:
        """Return the destination's rate for the class (None: the default class); 0 where none is set."""
        return self._rates.get((self.country, class_id), ZERO)

    def home_rate(self, class_id: int | None) -> Decimal:
        return self._rates.get((settings.SHOP_COUNTRY, class_id), ZERO)


def _query(country: str):
    return TaxRate.objects.filter(country__in={country, settings.SHOP_COUNTRY}).values_list(
        "tax_class_id", "tax_class__code", "country", "rate"
    )


def country_rates(country: str) -> CountryRates:
    """Return the rates for delivery to `country` (one query)."""
    return CountryRates(country=country, rows=list(_query(country)))


async def acountry_rates(country: str) -> CountryRates:
    return CountryRates(country=country, rows=[row async for row in _query(country)])
