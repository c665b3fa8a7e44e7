"""Form fields every room uses: money as staff type it."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from shop.money import currency_exponent, currency_symbol, format_money, to_major_units, to_minor_units


class MoneyField(forms.DecimalField):
    """An amount typed in the shop's currency (e.g. 4.95), cleaned to integer minor units."""

    def __init__(self, *, most: int, what: str = "A price", **kwargs) -> None:
        self.most = most
        self.what = what
        exponent = currency_exponent(settings.SHOP_CURRENCY)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 8}))
        super().__init__(min_value=Decimal(0), max_digits=14, decimal_places=exponent, **kwargs)
        self.error_messages.update(
            {
                "invalid": "Enter an amount as a number, e.g. 4.95.",
                "min_value": f"{what} cannot be negative.",
                "max_digits": f"{what} of that size is not possible: at most {self._most_text()}.",
                "max_decimal_places": f"Use at most {exponent} decimal places.",
                "max_whole_digits": f"{what} of that size is not possible: at most {self._most_text()}.",
            }
        )

    def _most_text(self) -> str:
        return format_money(self.most, settings.SHOP_CURRENCY)

    def to_python(self, value):
        # As people type prices: "£24.99", "24.99", "1,299.00".
        if isinstance(value, str):
            value = (
                value.strip().removeprefix(currency_symbol(settings.SHOP_CURRENCY)).replace(",", "").strip()
            )
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, int):
            return to_major_units(value, settings.SHOP_CURRENCY)
        return value

    def has_changed(self, initial, data) -> bool:
        return super().has_changed(self.prepare_value(initial), data)

    def run_validators(self, value) -> None:
        # Past the limit, say so once rather than also counting digits.
        if value is not None and value > to_major_units(self.most, settings.SHOP_CURRENCY):
            raise ValidationError(f"{self.what} of that size is not possible: at most {self._most_text()}.")
        super().run_validators(value)

    def clean(self, value) -> int | None:
        amount = super().clean(value)
        return None if amount is None else to_minor_units(amount, settings.SHOP_CURRENCY)
