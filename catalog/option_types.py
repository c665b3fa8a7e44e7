"""Product types from the options variants already carry: what the migration to option axes and
the demo seed both do. Works on the models it is given, so that a migration can pass its own."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.text import slugify

# Axes whose values are colours a swatch shows (a finish is seen, like a colour).
COLOUR_NAMES = {"colour", "color", "finish"}
BATCH = 2000


_SIZE_ORDER = {
    size: index
    for index, size in enumerate(
        ["XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL", "Single", "Double", "King", "Super King"]
    )
}


def option_sort_key(value: str) -> tuple[int, float, str]:
    """Sort sizes in wearing order, numbers numerically, anything else alphabetically."""
    if value in _SIZE_ORDER:
        return (0, _SIZE_ORDER[value], "")
    try:
        return (1, float(value), "")
    except ValueError:
        return (2, 0.0, value.lower())


def _own_type(product, names: tuple[str, ...], *, models, found: dict):
    """Return the product's own type and its axes when they are exactly `names` (staff chose it),
    else None."""
    if not product.product_type_id:
        return None
    key = ("type", product.product_type_id)
    if key not in found:
        axes = {
            axis.name: axis
            for axis in models["OptionAxis"].objects.filter(product_type_id=product.product_type_id)
        }
        found[key] = (models["ProductType"].objects.get(pk=product.product_type_id), axes)
    product_type, axes = found[key]
    return (product_type, axes) if set(axes) == set(names) else None


def _type_for(names: tuple[str, ...], *, models, found: dict):
    """Return the product type whose axes are `names`, in that order, made once."""
    if names not in found:
        ProductType, OptionAxis = models["ProductType"], models["OptionAxis"]
        labels = [name.replace("_", " ") for name in names]
        name = " and ".join(labels).capitalize()
        product_type, _ = ProductType.objects.get_or_create(slug=slugify(name)[:90], defaults={"name": name})
        axes = {}
        for position, axis_name in enumerate(names):
            axes[axis_name], _ = OptionAxis.objects.get_or_create(
                product_type=product_type,
                name=axis_name,
                defaults={
                    "label": axis_name.replace("_", " ").capitalize(),
                    "is_colour": axis_name in COLOUR_NAMES,
                    "position": position,
                },
            )
        found[names] = (product_type, axes)
    return found[names]


def types_from_options(
    products: Iterable[tuple[object, list]],
    *,
    models: dict,
    swatches: dict[str, str] | None = None,
    cache: dict | None = None,
) -> int:
    """Give each of `products` ((product, its variants) pairs) a product type named after its
    variants' option names, each variant its value on each axis, and each axis's values the order
    shoppers read them in (sizes as worn, numbers by size, words alphabetically); return how many
    products were given a type. `swatches` gives colour values their swatch (#rrggbb).

    With a `cache` (one dict for many calls, e.g. an import's), the types and values read are
    kept for the next call and the values are put in order only by values_order at the end."""
    OptionValue, VariantOption = models["OptionValue"], models["VariantOption"]
    shared = cache if cache is not None else {}
    found: dict = shared.setdefault("found", {})
    values: dict[tuple[int, str], object] = shared.setdefault("values", {})
    rows, typed = [], 0
    for product, variants in products:
        names = tuple(dict.fromkeys(name for variant in variants for name in variant.options))
        if not names:
            continue
        product_type, axes = _own_type(product, names, models=models, found=found) or _type_for(
            names, models=models, found=found
        )
        if product.product_type_id != product_type.pk:
            product.product_type = product_type
            product.save(update_fields=["product_type"])
        typed += 1
        for variant in variants:
            for name, raw in variant.options.items():
                axis, text = axes[name], str(raw)
                if (axis.pk, text) not in values:
                    swatch = (swatches or {}).get(text, "") if axis.is_colour else ""
                    values[axis.pk, text], _ = OptionValue.objects.get_or_create(
                        axis=axis, value=text, defaults={"swatch": swatch}
                    )
                rows.append(VariantOption(variant=variant, axis=axis, value=values[axis.pk, text]))
        if len(rows) >= BATCH:
            VariantOption.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    VariantOption.objects.bulk_create(rows, ignore_conflicts=True)
    axes = {axis for _type, type_axes in found.values() for axis in type_axes.values()}
    if cache is None:
        values_order(models, axes)
    else:
        cache.setdefault("axes", set()).update(axes)
    return typed


def values_order(models: dict, axes: set) -> None:
    """Put each axis's values in the order shoppers read them (sizes as worn, numbers by size)."""
    OptionValue = models["OptionValue"]
    for axis in axes:
        ordered = sorted(
            OptionValue.objects.filter(axis=axis), key=lambda value: option_sort_key(value.value)
        )
        for position, value in enumerate(ordered):
            value.position = position
        OptionValue.objects.bulk_update(ordered, ["position"])


def images_to_colours(images: Iterable, *, models: dict) -> int:
    """Tie each image whose alt text ends "in <colour>" to that colour value of its product's type
    (the demo's images say so; staff tie the rest); return how many were tied."""
    OptionValue, tied = models["OptionValue"], 0
    for image in images:
        type_id = image.product.product_type_id
        if not type_id or " in " not in image.alt_text:
            continue
        shade = image.alt_text.rsplit(" in ", 1)[1].strip()
        value = OptionValue.objects.filter(
            axis__product_type_id=type_id, axis__is_colour=True, value=shade
        ).first()
        if value is not None:
            image.colour = value
            image.save(update_fields=["colour"])
            tied += 1
    return tied
