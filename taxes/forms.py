"""What staff may set for tax, and the messages that refuse the rest (dashboard and admin)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django_countries import countries as all_countries

from taxes.models import TaxClass, TaxRate

RATE_RANGE = "Enter a rate from 0 to 100 %"


def country_name(code: str) -> str:
    return all_countries.name(code) or code


def rate_text(rate: Decimal) -> str:
    """Return a rate as staff type it: 20, 5.5 (never 2E+1)."""
    return format(rate.normalize(), "f")


class CountryCodeField(forms.ChoiceField):
    """One ISO country code, chosen from the list or typed in either case."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("choices", [("", "Choose a country"), *all_countries])
        super().__init__(**kwargs)
        self.error_messages.update(
            {
                "required": "Choose a country.",
                "invalid_choice": "“%(value)s” is not a country code we know (use two letters, e.g. GB).",
            }
        )

    def to_python(self, value) -> str:
        return super().to_python(value).strip().upper()


class RateField(forms.DecimalField):
    """A percentage from 0 to 100 with at most three decimal places, e.g. 20 or 5.5."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6}))
        kwargs.setdefault("help_text", "A percentage, e.g. 20 or 5.5.")
        super().__init__(**kwargs)

    def to_python(self, value) -> Decimal | None:
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(RATE_RANGE, code="invalid") from None

    def validate(self, value) -> None:
        try:
            super().validate(value)
        except ValidationError:  # blank, or not a finite number
            raise ValidationError(RATE_RANGE, code="invalid") from None
        if value is None:
            return
        if not Decimal(0) <= value <= Decimal(100):
            raise ValidationError(RATE_RANGE, code="out_of_range")
        if value != value.quantize(Decimal("0.001")):
            raise ValidationError("Give the rate to at most three decimal places, e.g. 5.5.", code="places")


def rate_taken(*, tax_class: TaxClass, country: str, rate_id: int | None = None) -> str | None:
    """Return why another rate keeps this class and country from this one, or None when free."""
    if TaxRate.objects.filter(tax_class=tax_class, country=country).exclude(pk=rate_id).exists():
        return f"{tax_class.name} already has a rate in {country_name(country)}: change that one instead."
    return None


class TaxRateForm(forms.ModelForm):
    country = CountryCodeField()
    rate = RateField()

    class Meta:
        model = TaxRate
        fields = ["tax_class", "country", "rate"]
        error_messages = {
            "tax_class": {"required": "Choose a tax class.", "invalid_choice": "Choose a tax class."}
        }

    def clean(self):
        cleaned = super().clean()
        tax_class = cleaned.get("tax_class") or getattr(self.instance, "tax_class", None)
        country = cleaned.get("country")
        if tax_class is not None and tax_class.pk is not None and country:
            message = rate_taken(tax_class=tax_class, country=country, rate_id=self.instance.pk)
            if message:
                self.add_error("country", message)
        return cleaned


class TaxRateFormSet(BaseInlineFormSet):
    """A class's rates: one per country."""

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            if not form.cleaned_data or self._should_delete_form(form):
                continue
            country = form.cleaned_data["country"]
            if country in seen:
                message = f"{country_name(country)} is given twice: a class has one rate per country."
                form.add_error("country", message)
                raise ValidationError(message)
            seen.add(country)
        super().clean()


class TaxClassForm(forms.ModelForm):
    class Meta:
        model = TaxClass
        fields = ["code", "name", "position"]
        help_texts = {
            "code": "Letters, digits and dashes, e.g. books; it cannot be changed later in the dashboard."
        }
        error_messages = {
            "code": {
                "required": "Give the class a code, e.g. books.",
                "invalid": "Use letters, digits and dashes in the code.",
                "unique": "There is already a tax class with that code.",
            },
            "name": {"required": "Give the class a name, e.g. Books."},
        }
