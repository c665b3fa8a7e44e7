"""Staff's edits of a product in the dashboard: its fields and its variants in one transaction,
refused when someone else saved it since the editor was opened (nothing of either is lost: the
second is shown the form again), and written to the product's history with who and when.
Stock set here goes through the inventory's audited adjustment."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Product, ProductEvent, Variant
from catalog.selectors import catalog_cache_clear
from catalog.services import product_catalogue_sync
from inventory.models import Stock
from inventory.stock import stock_adjust
from shop.exceptions import InvalidInput
from shop.money import format_money

logger = logging.getLogger(__name__)

STALE = (
    "Someone else saved this product after you opened it. Their changes are shown now; yours are "
    "below: check them and save again."
)
VARIANT_FIELDS = ["sku", "price", "compare_at_price", "weight_grams", "barcode", "is_active"]


def _money(value: int | None, currency: str) -> str:
    return "none" if value is None else format_money(value, currency)


def _variant_changes(variant: Variant, row: dict) -> list[str]:
    said = []
    for field in VARIANT_FIELDS:
        before, after = getattr(variant, field), row.get(field)
        if field == "weight_grams":
            after = after or 0
        if before != after:
            if field in ("price", "compare_at_price"):
                before, after = _money(before, variant.currency), _money(after, variant.currency)
            said.append(f"{variant.sku} {field.replace('_', ' ')} from {before} to {after}")
    return said


def _variants_save(product: Product, rows: Sequence[dict], actor) -> list[str]:
    """Write the variant rows (each one of the product's) and their stock; return what changed."""
    said = []
    variants = {
        variant.pk: variant for variant in Variant.objects.select_for_update().filter(product=product)
    }
    for row in rows:
        variant = variants.get(row["id"])
        if variant is None:
            raise ValidationError(
                "A variant in the table is no longer this product's: open the editor again."
            )
        said += _variant_changes(variant, row)
        for field in VARIANT_FIELDS:
            setattr(variant, field, (row.get(field) or 0) if field == "weight_grams" else row.get(field))
        variant.sku = variant.sku.strip()
        variant.save()
        stock = Stock.objects.filter(variant=variant).values_list("on_hand", flat=True).first()
        if stock != row["on_hand"]:
            try:
                stock_adjust(
                    variant_id=variant.pk,
                    on_hand=row["on_hand"],
                    reason="Set in the product editor",
                    user_id=actor.pk,
                )
            except InvalidInput as error:
                raise ValidationError(f"{variant.sku}: {error.user_message}") from error
            said.append(f"{variant.sku} on hand from {stock} to {row['on_hand']}")
    return said


def product_save(*, product: Product, seen: str = "", rows: Sequence[dict] = (), actor=None) -> Product:
    """Save the product as edited and its variant rows, and record what changed; raise
    ValidationError, writing nothing, when it was saved by someone else since `seen` (the time
    the editor read it) or a row cannot be saved."""
    with transaction.atomic():
        created = product.pk is None
        if not created:
            stored = Product.objects.select_for_update().get(pk=product.pk)
            if seen and stored.updated_at.isoformat() != seen:
                raise ValidationError(STALE, code="stale")
        product.save()
        said = _variants_save(product, rows, actor)
        product_catalogue_sync(product_id=product.pk)
        message = "Created." if created else "Saved" + (": " + "; ".join(said) if said else "") + "."
        ProductEvent.objects.create(product=product, actor_id=getattr(actor, "pk", None), message=message)
    catalog_cache_clear()
    logger.info("product saved", extra={"product": product.pk})
    return product


def variants_generate(*, product_id: int, actor=None) -> int:
    """Make the variants the product's type allows that it lacks, one for each combination of its
    axes' values, not yet sold (staff switch on those they sell) and priced like its cheapest;
    return how many were made."""
    with transaction.atomic():
        product = (
            Product.objects.select_for_update(of=("self",)).select_related("product_type").get(pk=product_id)
        )
        if product.product_type is None:
            raise ValidationError("Choose the product's type first: its axes say which variants it can have.")
        axes = list(product.product_type.axes.prefetch_related("values"))
        existing = {tuple(sorted(variant.options.items())) for variant in product.variants.all()}
        price = product.price_from or 0
        made = []
        for combination in itertools.product(
            *[[value.value for value in axis.values.all()] for axis in axes]
        ):
            options = {axis.name: value for axis, value in zip(axes, combination, strict=True)}
            if tuple(sorted(options.items())) in existing:
                continue
            sku = "-".join([product.slug[:30].upper(), *(slugify(value).upper() for value in combination)])[
                :64
            ]
            made.append(Variant(product=product, sku=sku, options=options, price=price, is_active=False))
        before = len(existing)
        Variant.objects.bulk_create(made, ignore_conflicts=True)  # a SKU taken elsewhere is left out
        made = made[: Variant.objects.filter(product=product).count() - before]
        product_catalogue_sync(product_id=product.pk)
        if made:
            ProductEvent.objects.create(
                product=product,
                actor_id=getattr(actor, "pk", None),
                message=f"Made {len(made)} variants, not yet sold.",
            )
    catalog_cache_clear()
    return len(made)


aproduct_save = sync_to_async(product_save)
avariants_generate = sync_to_async(variants_generate)
