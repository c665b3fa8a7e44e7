"""Option facets: the option values (size, colour, …) a category offers, with product counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform

from catalog.listings import ListingFilters
from catalog.models import Product, Variant
from catalog.option_types import option_sort_key


@dataclass(frozen=True)
class OptionFacet:
    name: str
    values: list[tuple[str, int]]  # (value, number of products)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def choices(self, filters: ListingFilters) -> list[tuple[str, int, bool]]:
        """Return (value, number of products, chosen in `filters`) for each value."""
        chosen = set(filters.options.get(self.name, ()))
        return [(value, count, value in chosen) for value, count in self.values]


def option_facets_read(category_ids: list[int]) -> list[OptionFacet]:
    """Return the facets of the active products in these categories, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT option.key, option.value, COUNT(DISTINCT variant.product_id)
            FROM catalog_variant AS variant
            JOIN catalog_product AS product ON product.id = variant.product_id
            CROSS JOIN LATERAL jsonb_each_text(variant.options) AS option
            WHERE variant.is_active AND product.is_active AND product.category_id = ANY(%s)
            GROUP BY option.key, option.value
            ORDER BY option.key, option.value
            """,
            [category_ids],
        )
        rows = cursor.fetchall()
    facets: dict[str, list[tuple[str, int]]] = {}
    for name, value, count in rows:
        facets.setdefault(name, []).append((value, count))
    return [
        OptionFacet(name=name, values=sorted(values, key=lambda item: option_sort_key(item[0])))
        for name, values in facets.items()
    ]


def facets_narrowed(
    facets: list[OptionFacet],
    *,
    filters: ListingFilters,
    listing: Callable[[ListingFilters], QuerySet[Product]],
) -> list[OptionFacet]:
    """Return the facets with each value counting the products the other filters leave: those a
    value's own axis is left out of, so that each count says what choosing that value would show.
    One query a facet; `listing` gives the products for some filters."""
    narrowed = []
    for facet in facets:
        others = replace(
            filters, options={name: values for name, values in filters.options.items() if name != facet.name}
        )
        variants = Variant.objects.filter(product__in=listing(others).order_by().values("pk"), is_active=True)
        for name, values in others.options.items():  # on the same variant, as the listing asks
            any_value = Q()
            for value in values:
                any_value |= Q(options__contains={name: value})
            variants = variants.filter(any_value)
        counts = dict(
            variants.annotate(value=KeyTextTransform(facet.name, "options"))
            .exclude(value__isnull=True)
            .values("value")
            .annotate(products=Count("product", distinct=True))
            .values_list("value", "products")
        )
        narrowed.append(
            OptionFacet(name=facet.name, values=[(value, counts.get(value, 0)) for value, _ in facet.values])
        )
    return narrowed
