"""Staff's edits of a product in the dashboard: its fields and its variants in one transaction,
refused when someone else saved it since the editor was opened (nothing of either is lost: the
second is shown the form again), and written to the product's history with who and when.
Stock set here goes through the inventory's audited adjustment."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Product, ProductEvent, Variant
from catalog.selectors import catalog_cache_clear
from catalog.services import product_catalogue_sync, product_price_from_refresh
from inventory.models import Stock
from inventory.stock import stock_adjust
from shop.exceptions import InvalidInput
from shop.money import format_money
from taxes.calc import round_half_up

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
        if before == after:
            continue
        if field == "is_active":
            said.append(f"{variant.sku} {'sold' if after else 'no longer sold'}")
            continue
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


BULK_ACTIONS = {
    "publish": "Published",
    "unpublish": "Unpublished",
    "category": "Moved to another category",
    "prices": "Prices changed",
    "stock": "Stock set",
}


def _bulk_prices(products: list[Product], percent: Decimal) -> dict[int, str]:
    """Change every variant's price by `percent` (rounded half up to the penny); return what each
    product's history says. Raise ValidationError when a price would not stay above nothing and
    below its compare-at price."""
    said, refused = {}, []
    for product in products:
        changed = []
        for variant in product.variants.all():
            new = round_half_up(Fraction(variant.price) * (100 + Fraction(percent)) / 100)
            if new <= 0 or (variant.compare_at_price is not None and new >= variant.compare_at_price):
                refused.append(variant.sku)
                continue
            before, after = _money(variant.price, variant.currency), _money(new, variant.currency)
            changed.append(f"{variant.sku} from {before} to {after}")
            variant.price = new
            variant.save(update_fields=["price"])
        said[product.pk] = "; ".join(changed)
    if refused:
        raise ValidationError(
            f"Not done: {', '.join(refused[:10])} would cost nothing or no less than its compare-at price."
        )
    product_price_from_refresh(product_ids=[product.pk for product in products])
    return said


def products_bulk(*, action: str, product_ids: Sequence[int], value=None, actor=None) -> int:
    """Carry out one bulk edit on the products, all or none of it, each recorded; return how many."""
    if action not in BULK_ACTIONS:
        raise ValidationError("Choose what to do with the products ticked.")
    with transaction.atomic():
        products = list(
            Product.objects.select_for_update().filter(pk__in=list(product_ids)).prefetch_related("variants")
        )
        if not products:
            raise ValidationError("Tick the products to change first.")
        said: dict[int, str] = {}
        if action in ("publish", "unpublish"):
            Product.objects.filter(pk__in=[p.pk for p in products]).update(is_active=action == "publish")
        elif action == "category":
            Product.objects.filter(pk__in=[p.pk for p in products]).update(category=value)
            said = dict.fromkeys((p.pk for p in products), f"to {value.name}")
        elif action == "prices":
            said = _bulk_prices(products, value)
        else:
            for product in products:
                for variant in product.variants.all():
                    try:
                        stock_adjust(
                            variant_id=variant.pk,
                            on_hand=value,
                            reason="Bulk edit",
                            user_id=getattr(actor, "pk", None),
                        )
                    except InvalidInput as error:
                        raise ValidationError(f"Not done: {variant.sku}: {error.user_message}") from error
            said = dict.fromkeys((p.pk for p in products), f"on hand {value} for each variant")
        events = []
        for product in products:
            detail = f": {said[product.pk]}" if said.get(product.pk) else ""
            message = f"{BULK_ACTIONS[action]} (bulk edit){detail}."
            events.append(ProductEvent(product=product, actor_id=getattr(actor, "pk", None), message=message))
        ProductEvent.objects.bulk_create(events)
    catalog_cache_clear()
    return len(products)


aproducts_bulk = sync_to_async(products_bulk)
