"""Bringing a catalogue in from the CSV (catalog.csv_format), and taking it out again.

An import first reads every product and says what it would do (create, change, leave as it is or
refuse, with the row number and the reason); run for real it then writes each product in its own
transaction, so that a refused or failed row never leaves half a product. It is idempotent: a
product is found by its handle, a variant by its SKU, and the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from catalog.csv_format import ProductRows, VariantRow
from catalog.models import Category, Product, ProductEvent, ProductType, Variant
from catalog.option_types import values_order
from catalog.selectors import catalog_cache_clear
from catalog.services import TYPE_MODELS, product_catalogue_sync
from inventory.models import Stock
from inventory.stock import stock_adjust
from shop.exceptions import InvalidInput
from shop.money import to_major_units
from taxes.models import TaxClass

CREATE, CHANGE, SAME, REFUSE = "create", "change", "same", "refuse"
PUBLISHED = {"TRUE": True, "FALSE": False, "YES": True, "NO": False, "1": True, "0": False}


@dataclass
class Outcome:
    handle: str
    line: int
    action: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)


class _Lookups:
    """The categories, types and tax classes a file may name, read once, by slug or name."""

    def __init__(self) -> None:
        self.categories = {}
        for category in Category.objects.all():
            self.categories[category.slug] = self.categories[category.name.lower()] = category
        self.types = {slugify(kind.name): kind for kind in ProductType.objects.all()}
        self.taxes = {}
        for tax in TaxClass.objects.all():
            self.taxes[tax.code.lower()] = self.taxes[tax.name.lower()] = tax


def _check(
    rows: ProductRows,
    existing: Product | None,
    lookups: _Lookups,
    claimed: dict[str, str],
    owners: dict[str, str],
) -> list[str]:
    """Return why the product cannot be imported (nothing when it can); `claimed` says which of
    the file's products first listed each SKU, `owners` which product in the shop has it."""
    reasons = [f"Row {line}: {why}" for line, why in rows.errors]
    fields = rows.fields
    if existing is None and not fields["Title"]:
        reasons.append(f"Row {rows.line}: Title is missing for a new product.")
    if fields["Category"] and fields["Category"].lower() not in lookups.categories:
        reasons.append(
            f"Row {rows.line}: no category “{fields['Category']}” (use a category's name or slug)."
        )
    elif existing is None and not fields["Category"]:
        reasons.append(f"Row {rows.line}: Category is missing for a new product.")
    if fields["Type"] and slugify(fields["Type"]) not in lookups.types:
        reasons.append(f"Row {rows.line}: no product type “{fields['Type']}”.")
    if fields["Tax Class"] and fields["Tax Class"].lower() not in lookups.taxes:
        reasons.append(f"Row {rows.line}: no tax class “{fields['Tax Class']}”.")
    if fields["Published"] and fields["Published"].upper() not in PUBLISHED:
        reasons.append(f"Row {rows.line}: Published must be TRUE or FALSE.")
    for variant in rows.variants:
        first = claimed.setdefault(variant.sku.upper(), rows.handle)
        owner = owners.get(variant.sku.upper(), rows.handle)
        if first != rows.handle:
            reasons.append(f"Row {variant.line}: SKU {variant.sku} is listed for {first} too.")
        elif owner != rows.handle:
            reasons.append(f"Row {variant.line}: SKU {variant.sku} belongs to the shop's product {owner}.")
    if not rows.variants and not rows.errors:
        reasons.append(f"Row {rows.line}: the product has no variant.")
    return reasons


def _product_values(rows: ProductRows, existing: Product | None, lookups: _Lookups) -> dict:
    """Return the product's fields as the file sets them (a blank cell keeps what it had)."""
    fields, values = rows.fields, {}
    if fields["Title"]:
        values["title"] = fields["Title"][:200]
    if fields["Body"] or existing is None:
        values["description"] = fields["Body"]
    if fields["Category"]:
        values["category"] = lookups.categories[fields["Category"].lower()]
    if fields["Type"]:
        values["product_type"] = lookups.types[slugify(fields["Type"])]
    if fields["Tax Class"]:
        values["tax_class"] = lookups.taxes[fields["Tax Class"].lower()]
    if fields["Published"] or existing is None:
        values["is_active"] = PUBLISHED.get(fields["Published"].upper(), True)
    for column, name, most in (("SEO Title", "seo_title", 70), ("SEO Description", "seo_description", 160)):
        if fields[column]:
            values[name] = fields[column][:most]
    return values


def _variant_values(row: VariantRow) -> dict:
    return {
        "options": row.options,
        "price": row.price,
        "compare_at_price": row.compare_at_price,
        "weight_grams": row.grams,
        "barcode": row.barcode,
    }


def _differs(
    existing: Product, values: dict, rows: ProductRows, variants: dict[str, Variant], stock: dict
) -> bool:
    if any(getattr(existing, name) != value for name, value in values.items()):
        return True
    for row in rows.variants:
        variant = variants.get(row.sku)
        if variant is None or variant.product_id != existing.pk:
            return True
        if any(getattr(variant, name) != value for name, value in _variant_values(row).items()):
            return True
        if row.on_hand is not None and stock.get(variant.pk) != row.on_hand:
            return True
    return False


def _write(
    rows: ProductRows, existing: Product | None, values: dict, actor, known: dict, cache: dict
) -> None:
    """Write one product and its variants in one transaction; raise InvalidInput to write none.
    `known` holds the file's variants already in the shop, by SKU."""
    with transaction.atomic():
        product = existing or Product(slug=rows.handle)
        for name, value in values.items():
            setattr(product, name, value)
        product.save()
        for position, row in enumerate(rows.variants):
            variant = known.get(row.sku)
            created = variant is None
            if created:
                variant = Variant(product=product, sku=row.sku, position=position)
            for name, value in _variant_values(row).items():
                setattr(variant, name, value)
            variant.save()
            if created:  # its first count: nothing to adjust from
                Stock.objects.create(variant=variant, on_hand=row.on_hand or 0)
                continue
            stock, _made = Stock.objects.get_or_create(variant=variant)
            if row.on_hand is not None and stock.on_hand != row.on_hand:
                try:
                    stock_adjust(
                        variant_id=variant.pk,
                        on_hand=row.on_hand,
                        reason="Imported",
                        user_id=getattr(actor, "pk", None),
                    )
                except InvalidInput as error:
                    raise InvalidInput(f"Row {row.line}: {row.sku}: {error.user_message}") from error
        product_catalogue_sync(product_id=product.pk, options_cache=cache)
        message = "Imported." if existing is None else "Changed by an import."
        ProductEvent.objects.create(product=product, actor_id=getattr(actor, "pk", None), message=message)


def catalogue_import(
    products: list[ProductRows],
    *,
    dry_run: bool,
    actor=None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Say what each product of the file does (dry run), or do it; see the module's docstring."""
    lookups, claimed, report, cache = _Lookups(), {}, Report(), {}
    handles = [rows.handle for rows in products if rows.handle]
    existing = {product.slug: product for product in Product.objects.filter(slug__in=handles)}
    skus = [variant.sku for rows in products for variant in rows.variants]
    variants = {
        variant.sku: variant for variant in Variant.objects.filter(sku__in=skus).select_related("product")
    }
    owners = {sku.upper(): variant.product.slug for sku, variant in variants.items()}
    stock = dict(Stock.objects.filter(variant__sku__in=skus).values_list("variant_id", "on_hand"))
    for index, rows in enumerate(products, start=1):
        product = existing.get(rows.handle)
        reasons = _check(rows, product, lookups, claimed, owners)
        if reasons:
            report.outcomes.append(Outcome(rows.handle, rows.line, REFUSE, reasons))
        else:
            values = _product_values(rows, product, lookups)
            action = (
                CREATE
                if product is None
                else (CHANGE if _differs(product, values, rows, variants, stock) else SAME)
            )
            if not dry_run and action != SAME:
                try:
                    _write(rows, product, values, actor, variants, cache)
                except InvalidInput as error:
                    action, reasons = REFUSE, [error.user_message]
                    cache.clear()  # what it read in the transaction undone may be gone
            report.outcomes.append(Outcome(rows.handle, rows.line, action, reasons))
        if progress:
            progress(index, len(products))
    if not dry_run:
        values_order(TYPE_MODELS, cache.get("axes", set()))
        catalog_cache_clear()
    return report


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else format(to_major_units(amount, currency), "f")


def catalogue_rows() -> Iterator[dict[str, str]]:
    """Yield the catalogue as the CSV's rows, product by product (by handle), a variant a row."""
    products = Product.objects.select_related("category", "product_type", "tax_class").prefetch_related(
        "variants__stock", "product_type__axes"
    )
    for product in products.order_by("slug").iterator(chunk_size=500):
        axes = [axis.name for axis in product.product_type.axes.all()] if product.product_type else []
        for index, variant in enumerate(sorted(product.variants.all(), key=lambda v: (v.position, v.pk))):
            names = axes or list(variant.options)
            row = {"Handle": product.slug}
            if index == 0:
                row |= {
                    "Title": product.title,
                    "Body": product.description,
                    "Category": product.category.slug,
                    "Type": product.product_type.name if product.product_type else "",
                    "Tax Class": product.tax_class.code if product.tax_class else "",
                    "Published": "TRUE" if product.is_active else "FALSE",
                    "SEO Title": product.seo_title,
                    "SEO Description": product.seo_description,
                }
            for number, name in enumerate(names[:3], start=1):
                row |= {f"Option{number} Name": name, f"Option{number} Value": variant.options.get(name, "")}
            stock = getattr(variant, "stock", None)
            row |= {
                "Variant SKU": variant.sku,
                "Variant Price": f"{variant.price / 100:.2f}",
                "Variant Compare At Price": f"{variant.compare_at_price / 100:.2f}"
                if variant.compare_at_price
                else "",
                "Variant Grams": str(variant.weight_grams),
                "Variant Barcode": variant.barcode,
                "Variant Inventory Qty": str(stock.on_hand if stock else 0),
            }
            yield row
