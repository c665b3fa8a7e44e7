"""The one rule for whether a variant is for sale, used by the cart, the checkout and placement.

A variant is for sale when it, its product and its product's category are active,
and so is every category above that one: switching a category off withdraws
everything filed under it, as the storefront's category tree already hides it.
These reads are live (never the storefront's short-lived cache), because they
decide what can be ordered.
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog.models import Category, Variant


def _visible_ids(rows: Iterable[tuple[int, int | None, bool]]) -> frozenset[int]:
    """Return the ids of the active categories whose every ancestor is active too."""
    children: dict[int | None, list[int]] = {}
    for category_id, parent_id, is_active in rows:
        if is_active:
            children.setdefault(parent_id, []).append(category_id)
    # Walking down from the roots reaches neither a child of an inactive category nor a cycle.
    visible: set[int] = set()
    stack = list(children.get(None, []))
    while stack:
        category_id = stack.pop()
        if category_id not in visible:
            visible.add(category_id)
            stack.extend(children.get(category_id, []))
    return frozenset(visible)


def sellable_category_ids() -> frozenset[int]:
    """Return the ids of the categories whose products may be sold (one query)."""
    return _visible_ids(Category.objects.values_list("id", "parent_id", "is_active"))


async def asellable_category_ids() -> frozenset[int]:
    """Return the ids of the categories whose products may be sold (one query)."""
    return _visible_ids([row async for row in Category.objects.values_list("id", "parent_id", "is_active")])


def variant_is_sellable(variant: Variant, category_ids: frozenset[int]) -> bool:
    """Return whether the variant (with its product loaded) is for sale, given the sellable categories."""
    return variant.is_active and variant.product.is_active and variant.product.category_id in category_ids
