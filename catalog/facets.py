"""Option facets: the option values (size, colour, …) a category offers, with product counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from catalog.listings import ListingFilters


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
