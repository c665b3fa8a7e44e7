"""Writes and business rules for the catalogue."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.db.models.functions import Coalesce

from catalog.models import OptionAxis, OptionValue, Product, ProductType, Variant, VariantOption
from catalog.option_types import types_from_options
from inventory.models import Stock

# The models types_from_options writes (a migration passes its own).
TYPE_MODELS = {
    "ProductType": ProductType,
    "OptionAxis": OptionAxis,
    "OptionValue": OptionValue,
    "VariantOption": VariantOption,
}


def product_price_from_refresh(*, product_ids: Iterable[int]) -> int:
    """Set each product's `price_from` to its cheapest active variant's price (0 if none).

    Return how many products were updated. One UPDATE, whatever the count.
    """
    cheapest = (
        Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        .values("product")
        .annotate(cheapest=Min("price"))
        .values("cheapest")
    )
    return Product.objects.filter(pk__in=list(product_ids)).update(price_from=Coalesce(Subquery(cheapest), 0))


def product_catalogue_sync(*, product_id: int, options_cache: dict | None = None) -> None:
    """Bring a product's derived data up to date after an edit.

    Every variant gets a stock row (starting at zero), the product's `price_from` follows its
    variants, and its type and its variants' values on each axis follow their options.
    """
    variant_ids = Variant.objects.filter(product_id=product_id).values_list("id", flat=True)
    Stock.objects.bulk_create(
        [Stock(variant_id=variant_id) for variant_id in variant_ids], ignore_conflicts=True
    )
    product_price_from_refresh(product_ids=[product_id])
    product_options_sync(product_id=product_id, cache=options_cache)


def product_options_sync(*, product_id: int, cache: dict | None = None) -> None:
    """Make the product's type and its variants' values follow the options typed on them (the
    admin edits Variant.options): the rows are written again from them, in one transaction. A
    product whose variants carry no options (none yet, or one plain variant) keeps the type staff
    chose for it."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product_id)
        variants = list(Variant.objects.filter(product=product))
        VariantOption.objects.filter(variant__product=product).delete()
        types_from_options([(product, variants)], models=TYPE_MODELS, cache=cache)
