"""Reads for the staff's tax and delivery settings pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch
from django_countries import countries

from shipping.forms import measure_text, zone_warning
from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from shop.money import format_money
from taxes.forms import rate_text
from taxes.models import TaxClass, TaxRate


@dataclass(frozen=True)
class RateCell:
    tax_class_id: int
    rate_id: int | None  # None: no rate for this class in the row's country
    text: str  # "20", "5.5"


@dataclass(frozen=True)
class TaxRow:
    country: str
    name: str
    cells: list[RateCell]  # one per class, in the table's column order


@dataclass(frozen=True)
class TaxTable:
    classes: list[TaxClass]
    rows: list[TaxRow]


async def tax_table() -> TaxTable:
    """Return every country with a rate as a row, and each class's rate there as a column (two queries)."""
    classes = [tax_class async for tax_class in TaxClass.objects.order_by("position", "name")]
    by_country: dict[str, dict[int, RateCell]] = {}
    async for rate in TaxRate.objects.all():
        cell = RateCell(tax_class_id=rate.tax_class_id, rate_id=rate.pk, text=rate_text(rate.rate))
        by_country.setdefault(rate.country, {})[rate.tax_class_id] = cell
    rows = [
        TaxRow(
            country=code,
            name=countries.name(code) or code,
            cells=[rates.get(tax_class.pk) or RateCell(tax_class.pk, None, "") for tax_class in classes],
        )
        for code, rates in by_country.items()
    ]
    return TaxTable(classes=classes, rows=sorted(rows, key=lambda row: row.name))


@dataclass(frozen=True)
class MethodRow:
    method: ShippingMethod
    bands: list[str]  # "£0.00 to £50.00: £4.95"


@dataclass(frozen=True)
class ZoneRow:
    zone: ShippingZone
    countries: list[str]  # names
    methods: list[MethodRow]
    warning: str | None


def _band_text(band: ShippingBand, basis: str, currency: str) -> str:
    end = "up" if band.upper is None else f"to {measure_text(band.upper, basis)}"
    return f"{measure_text(band.lower, basis)} {end}: {format_money(band.price, currency)}"


def _zone_row(zone: ShippingZone) -> ZoneRow:
    methods = list(zone.methods.all())
    return ZoneRow(
        zone=zone,
        countries=sorted(countries.name(code) or code for code in zone.countries),
        methods=[
            MethodRow(
                method=method,
                bands=[_band_text(band, method.basis, method.currency) for band in method.bands.all()],
            )
            for method in methods
        ],
        warning=zone_warning(zone, methods),
    )


def _zones():
    methods = ShippingMethod.objects.order_by("position", "name").prefetch_related(
        Prefetch("bands", queryset=ShippingBand.objects.order_by("lower"))
    )
    return ShippingZone.objects.order_by("position", "name").prefetch_related(
        Prefetch("methods", queryset=methods)
    )


async def zone_rows() -> list[ZoneRow]:
    """Return every zone with its countries, methods, bands and any warning (three queries)."""
    return [_zone_row(zone) async for zone in _zones()]


async def zone_for_edit(zone_id: int) -> ZoneRow | None:
    """Return one zone as the list shows it, or None (three queries)."""
    zone = await _zones().filter(pk=zone_id).afirst()
    return None if zone is None else _zone_row(zone)
