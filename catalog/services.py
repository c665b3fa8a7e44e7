"""Writes and business rules for the catalogue."""

from collections.abc import Iterable

from django.db.models import Min, OuterRef, Subquery
from django.db.models.functions import Coalesce

from catalog.models import Product, Variant
from inventory.models import Stock


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


def product_catalogue_sync(*, product_id: int) -> None:
    """Bring a product's derived data up to date after an edit.

    Every variant gets a stock row (starting at zero) and the product's
    `price_from` follows its variants.
    """
    variant_ids = Variant.objects.filter(product_id=product_id).values_list("id", flat=True)
    Stock.objects.bulk_create(
        [Stock(variant_id=variant_id) for variant_id in variant_ids], ignore_conflicts=True
    )
    product_price_from_refresh(product_ids=[product_id])
