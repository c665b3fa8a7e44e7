"""The product page's variant picker: one control per axis, the variant those choices make, and
which values would leave the shopper with nothing in stock.

The choice lives in the query string by axis (`?colour=navy&size=m`, values as slugs, any case), so
a choice can be shared and the page works as a plain form; a script makes the same choice in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.utils.text import slugify

from catalog.selectors import AxisChoice, ProductDetail, VariantChoice


@dataclass(frozen=True)
class PickerValue:
    value: str
    swatch: str
    chosen: bool
    in_stock: bool  # some variant in stock has it, with the other axes as chosen
    query: str  # the query string that chooses it, the other axes kept


@dataclass(frozen=True)
class PickerAxis:
    name: str
    label: str
    is_colour: bool
    values: tuple[PickerValue, ...]

    @property
    def chosen(self) -> str:
        return next((value.value for value in self.values if value.chosen), "")


@dataclass(frozen=True)
class Picked:
    axes: tuple[PickerAxis, ...]
    variant: VariantChoice | None  # None: no variant is made in these choices
    chosen: dict[str, str]


def _asked(axis: AxisChoice, query: Mapping[str, str]) -> str | None:
    """Return the axis's value named in the query (as a slug or as typed), or None."""
    raw = str(query.get(axis.name, ""))[:80]
    wanted = slugify(raw)
    return next((value for value, _swatch in axis.values if slugify(value) == wanted), None) if raw else None


def _matches(variant: VariantChoice, chosen: Mapping[str, str]) -> bool:
    return all(variant.options.get(name) == value for name, value in chosen.items())


def _starting_choice(
    product: ProductDetail, query: Mapping[str, str], variant_id: int | None
) -> dict[str, str]:
    """Return what is chosen: the variant named (sent back from the cart), else the query's values,
    the rest from the first variant in stock that has them (else the first that has them)."""
    named = next((variant for variant in product.variants if variant.id == variant_id), None)
    if named is not None:
        return dict(named.options)
    chosen = {axis.name: value for axis in product.axes if (value := _asked(axis, query)) is not None}
    fits = [variant for variant in product.variants if _matches(variant, chosen)]
    fill = next((variant for variant in fits if variant.is_in_stock), fits[0] if fits else None)
    if fill is not None:
        chosen = {**fill.options, **chosen}
    return chosen


def pick(product: ProductDetail, query: Mapping[str, str], *, variant_id: int | None = None) -> Picked:
    """Return the picker for `product` with the choice in `query` (or that of `variant_id`)."""
    chosen = _starting_choice(product, query, variant_id)
    axes = []
    for axis in product.axes:
        others = {name: value for name, value in chosen.items() if name != axis.name}
        values = []
        for value, swatch in axis.values:
            choice = {**others, axis.name: value}
            in_stock = any(variant.is_in_stock and _matches(variant, choice) for variant in product.variants)
            ordered = {other.name: choice[other.name] for other in product.axes if other.name in choice}
            values.append(
                PickerValue(
                    value=value,
                    swatch=swatch,
                    chosen=chosen.get(axis.name) == value,
                    in_stock=in_stock,
                    query=urlencode({name: slugify(text) for name, text in ordered.items()}),
                )
            )
        axes.append(
            PickerAxis(name=axis.name, label=axis.label, is_colour=axis.is_colour, values=tuple(values))
        )
    complete = len(chosen) == len(product.axes)
    variant = next((variant for variant in product.variants if complete and variant.options == chosen), None)
    return Picked(axes=tuple(axes), variant=variant, chosen=chosen)


def stock_text(variant: VariantChoice | None) -> tuple[bool, str]:
    """Return whether the choice can be bought and what the page says of its stock."""
    if variant is None:
        return False, "Not made in this combination: choose another."
    if variant.available > 5:
        return True, "In stock"
    if variant.available > 0:
        return True, f"Only {variant.available} left"
    return False, "Sold out in this choice"


def picker_variants(product: ProductDetail) -> list[dict]:
    """Return what the picker's script needs of each variant: its values, price (as the page shows
    it) and stock, to make a choice in place as the server would."""
    rows = []
    for variant in product.variants:
        buyable, stock = stock_text(variant)
        price = render_to_string(
            "promotions/_price.html",
            {"price": variant.price, "was": variant.was, "currency": variant.currency},
        )
        rows.append(
            {"id": variant.id, "options": variant.options, "price": price, "stock": stock, "buyable": buyable}
        )
    return rows
