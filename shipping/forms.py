"""What staff may set for delivery, and the messages that refuse the rest.

Used by the dashboard and the Django admin alike. Amounts are typed in the shop's currency
(e.g. 4.95) and cleaned to minor units; weights are typed in grams.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django_countries import countries as all_countries

from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from shop.forms import MoneyField
from shop.money import currency_exponent, format_money, to_major_units, to_minor_units

# No parcel costs more than this to send; a larger figure is a slip of the keyboard.
MAX_DELIVERY_PRICE = 100_000  # minor units: £1,000.00
MAX_FREE_OVER = 10_000_000  # £100,000.00
MAX_VALUE_MEASURE = 100_000_000  # £1,000,000.00
MAX_WEIGHT_MEASURE = 1_000_000  # grams: a tonne


def country_name(code: str) -> str:
    return all_countries.name(code) or code


def _codes(raw: str) -> list[str]:
    return [
        part.strip().upper() for part in raw.replace(";", ",").replace(" ", ",").split(",") if part.strip()
    ]


class CountryListField(forms.CharField):
    """ISO country codes typed as a list ("DE, FR"); cleans to ["DE", "FR"], each known."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", "Two-letter country codes separated by commas, e.g. DE, FR, IE.")
        kwargs.setdefault(
            "error_messages", {"required": "Give at least one country (its two-letter code, e.g. GB)."}
        )
        super().__init__(max_length=2000, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def has_changed(self, initial, data) -> bool:
        return list(initial or []) != _codes(data or "")

    def clean(self, value) -> list[str]:
        super().clean(value)
        codes = list(dict.fromkeys(_codes(value or "")))
        if not codes:
            raise ValidationError(self.error_messages["required"], code="required")
        unknown = [code for code in codes if not all_countries.name(code)]
        if unknown:
            raise ValidationError(
                [f"“{code}” is not a country code we know (use two letters, e.g. GB)." for code in unknown]
            )
        return codes


def measure_text(value: int, basis: str) -> str:
    """Return a band limit as staff read it: an amount for value bands, grams for weight."""
    if basis == ShippingMethod.Basis.WEIGHT:
        return f"{value:,} g"
    return format_money(value, settings.SHOP_CURRENCY)


class MeasureField(forms.DecimalField):
    """Where a band starts or ends: an amount (e.g. 50.00) or whole grams, by the method's basis."""

    def __init__(self, **kwargs) -> None:
        self.basis = ShippingMethod.Basis.VALUE
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 8}))
        super().__init__(min_value=Decimal(0), **kwargs)
        self.error_messages.update(
            {"invalid": "Enter a number, e.g. 50 or 49.99.", "min_value": "A band cannot start below 0."}
        )

    @property
    def is_weight(self) -> bool:
        return self.basis == ShippingMethod.Basis.WEIGHT

    def prepare_value(self, value):
        if isinstance(value, int) and not self.is_weight:
            return to_major_units(value, settings.SHOP_CURRENCY)
        return value

    def has_changed(self, initial, data) -> bool:
        return super().has_changed(self.prepare_value(initial), data)

    def clean(self, value) -> int | None:
        number = super().clean(value)
        if number is None:
            return None
        currency = settings.SHOP_CURRENCY
        most = MAX_WEIGHT_MEASURE if self.is_weight else MAX_VALUE_MEASURE
        if number > (most if self.is_weight else to_major_units(most, currency)):
            raise ValidationError(
                f"A band limit of that size is not possible: at most {measure_text(most, self.basis)}."
            )
        if self.is_weight:
            if number != number.to_integral_value():
                raise ValidationError("Give weights in whole grams, e.g. 500.")
            return int(number)
        measure = to_minor_units(number, currency)
        if to_major_units(measure, currency) != number:
            raise ValidationError(f"Use at most {currency_exponent(currency)} decimal places.")
        return measure


# Zones -------------------------------------------------------------------------------------


def zone_overlaps(*, countries: Iterable[str], zone_id: int | None) -> list[str]:
    """Return a message for each of `countries` already in another active zone (one query)."""
    wanted = set(countries)
    others = ShippingZone.objects.filter(is_active=True, countries__overlap=sorted(wanted)).exclude(
        pk=zone_id
    )
    messages = []
    for other in others.order_by("position", "name"):
        for code in sorted(wanted.intersection(other.countries), key=country_name):
            messages.append(f"{country_name(code)} is already in the zone {other.name}.")
    return messages


class ZoneForm(forms.ModelForm):
    countries = CountryListField()

    class Meta:
        model = ShippingZone
        fields = ["name", "countries", "is_active", "position"]
        labels = {"is_active": "Active (shoppers in these countries may check out)"}
        error_messages = {"name": {"required": "Give the zone a name."}}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("countries") and cleaned.get("is_active"):
            for message in zone_overlaps(countries=cleaned["countries"], zone_id=self.instance.pk):
                self.add_error("countries", message)
        return cleaned


def zone_warning(zone: ShippingZone, methods: Iterable[ShippingMethod]) -> str | None:
    """Return why shoppers in an active zone cannot check out, if they cannot (no query: pass
    the zone's methods, each with its bands prefetched)."""
    if not zone.is_active:
        return None
    if any(method.is_active and method.bands.all() for method in methods):
        return None
    return f"Zone {zone.name} offers no delivery method: shoppers there cannot check out."


# Methods and their bands -------------------------------------------------------------------


def method_code_taken(*, zone: ShippingZone, code: str, method_id: int | None = None) -> str | None:
    """Return why another method of `zone` keeps `code` from this one, or None when it is free."""
    if zone.pk is None:
        return None
    if ShippingMethod.objects.filter(zone=zone, code=code).exclude(pk=method_id).exists():
        return f"The zone {zone.name} already has a method with the code “{code}”."
    return None


class MethodForm(forms.ModelForm):
    free_over = MoneyField(
        most=MAX_FREE_OVER,
        what="A free-delivery threshold",
        required=False,
        label="Free delivery from",
        help_text="Goods worth this or more ship free. Leave blank for never.",
    )

    class Meta:
        model = ShippingMethod
        fields = ["code", "name", "description", "estimate", "basis", "free_over", "is_active", "position"]
        labels = {"basis": "Priced by", "is_active": "Offered to shoppers"}
        help_texts = {"code": "Letters, digits and dashes, e.g. standard; unique within the zone."}
        error_messages = {
            "code": {
                "required": "Give the method a code, e.g. standard.",
                "invalid": "Use letters, digits and dashes.",
            },
            "name": {"required": "Give the method a name shoppers read, e.g. Standard delivery."},
        }

    def clean_free_over(self) -> int | None:
        free_over = self.cleaned_data.get("free_over")
        if free_over == 0:
            raise ValidationError(
                "Free delivery from 0 would make this method always free: leave it blank for never, "
                "or give the amount from which delivery is free."
            )
        return free_over

    def clean(self):
        cleaned = super().clean()
        zone = cleaned.get("zone") or getattr(self.instance, "zone", None)
        code = cleaned.get("code")
        if zone is not None and code:
            message = method_code_taken(zone=zone, code=code, method_id=self.instance.pk)
            if message:
                self.add_error("code", message)
        return cleaned


class BandForm(forms.ModelForm):
    lower = MeasureField(label="From", help_text="Inclusive; the first band starts at 0.")
    upper = MeasureField(
        label="Up to", required=False, help_text="Exclusive; blank: no limit (last band only)."
    )
    price = MoneyField(most=MAX_DELIVERY_PRICE, what="A delivery price", label="Price")

    class Meta:
        model = ShippingBand
        fields = ["lower", "upper", "price"]

    def __init__(self, *args, basis: str = ShippingMethod.Basis.VALUE, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.basis = basis
        self.fields["lower"].basis = basis
        self.fields["upper"].basis = basis
        self.fields["lower"].error_messages["required"] = "Give where the band starts (0 for the first)."
        self.fields["price"].error_messages["required"] = "Give the band a price (0 for free)."

    def validate_unique(self) -> None:
        """Checked together by the band formset: a method's bands are replaced as a whole, so a
        start another band has now may be free once the list is saved."""

    def validate_constraints(self) -> None:
        """As validate_unique; the one other constraint (upper above lower) is checked in clean()."""

    def clean(self):
        cleaned = super().clean()
        lower, upper = cleaned.get("lower"), cleaned.get("upper")
        if lower is not None and upper is not None and upper <= lower:
            self.add_error(
                "upper",
                f"The band from {measure_text(lower, self.basis)} must end above where it starts.",
            )
        return cleaned


@dataclass(frozen=True)
class Band:
    lower: int
    upper: int | None
    price: int


def band_problems(bands: list[Band], basis: str) -> list[tuple[int, str]]:
    """Return (index in `bands`, message) for each band that breaks the rule: the bands cover the
    measure from 0, each starting where the one before it ends, only the last open-ended."""
    if not bands:
        return []

    def text(value: int) -> str:
        return measure_text(value, basis)

    order = sorted(range(len(bands)), key=lambda index: bands[index].lower)
    problems = []
    if bands[order[0]].lower != 0:
        lowest = text(bands[order[0]].lower)
        problems.append((order[0], f"The first band must start at 0; the lowest starts at {lowest}."))
    for before, index in zip(order, order[1:], strict=False):
        previous, band = bands[before], bands[index]
        if previous.upper is None:
            message = (
                f"The band from {text(previous.lower)} has no upper limit, so it must be the last; "
                f"the band from {text(band.lower)} comes after it."
            )
            problems.append((before, message))
        elif band.lower > previous.upper:
            message = (
                f"The band from {text(band.lower)} leaves a gap from {text(previous.upper)} to "
                f"{text(band.lower)}: start it at {text(previous.upper)}, where the band before it ends."
            )
            problems.append((index, message))
        elif band.lower < previous.upper:
            message = (
                f"The band from {text(band.lower)} overlaps the band before it, which runs to "
                f"{text(previous.upper)}: start it at {text(previous.upper)}."
            )
            problems.append((index, message))
    return problems


def _band(form: forms.Form) -> Band:
    data = form.cleaned_data
    return Band(lower=data["lower"], upper=data.get("upper"), price=data["price"])


class BandFormSet(BaseInlineFormSet):
    """A method's price bands: at least one, covering its measure from 0 without gaps or overlaps."""

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "basis": self.instance.basis}

    def kept_forms(self) -> list[forms.Form]:
        """Return the forms that describe a band: filled in and not marked for deletion."""
        return [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]

    def bands(self) -> list[Band]:
        """Return the bands of the valid formset, lowest first."""
        return sorted((_band(form) for form in self.kept_forms()), key=lambda band: band.lower)

    def clean(self) -> None:
        if any(self.errors):
            return
        kept = self.kept_forms()
        if not kept:
            raise ValidationError("Give the method at least one price band.")
        problems = band_problems([_band(form) for form in kept], self.instance.basis)
        for index, message in problems:
            kept[index].add_error(None, message)
        if problems:
            raise ValidationError([message for _, message in problems])
        super().clean()


def band_formset_class(extra: int = 0):
    """Return the band formset class for a method (`extra` empty rows to add bands)."""
    return forms.inlineformset_factory(
        ShippingMethod, ShippingBand, form=BandForm, formset=BandFormSet, extra=extra, can_delete=True
    )
