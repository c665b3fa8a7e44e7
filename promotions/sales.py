"""Sales: promotions without a code that lower the prices of what they cover while they run.

A sale takes a percentage (rounded half up to the minor unit) or an amount off each unit's
catalogue price; where several sales cover one product, the one that takes most off applies, and
sales never add up. The sale price is then the unit's price everywhere: on cards and product
pages, in the cart, at checkout and on the order, so VAT, codes and refunds all follow it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from catalog.models import Category
from promotions.models import Promotion
from taxes.calc import round_half_up


@dataclass(frozen=True)
class Sale:
    promotion_id: int
    name: str
    percent: Decimal | None  # a percentage off, or
    amount: int | None  # an amount off each unit, minor units
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()  # with every category below those chosen
    ends_at: datetime | None = None

    @property
    def covers_all(self) -> bool:
        return not self.product_ids and not self.category_ids

    def covers(self, *, product_id: int, category_id: int | None) -> bool:
        return self.covers_all or product_id in self.product_ids or category_id in self.category_ids

    def off(self, price: int) -> int:
        """Return what the sale takes off a unit priced `price` (never more than the price)."""
        if self.percent is not None:
            return min(round_half_up(Fraction(price) * Fraction(self.percent) / 100), price)
        return min(self.amount or 0, price)


@dataclass(frozen=True)
class SalePrice:
    """A unit's price with the sale that lowered it, if one did."""

    price: int  # what the unit costs now
    list_price: int  # its catalogue price
    sale: Sale | None = None

    @property
    def was(self) -> int | None:
        """The catalogue price to show struck through ("was £x"), or None when not on sale."""
        return self.list_price if self.sale else None


@dataclass(frozen=True)
class Sales:
    """The sales running at one moment."""

    running: tuple[Sale, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.running)

    def price(self, *, price: int, product_id: int, category_id: int | None) -> SalePrice:
        """Return the unit's price after the sale that takes most off it (the first on a tie)."""
        best, best_off = None, 0
        for sale in self.running:
            if sale.covers(product_id=product_id, category_id=category_id):
                off = sale.off(price)
                if off > best_off:
                    best, best_off = sale, off
        return SalePrice(price=price - best_off, list_price=price, sale=best)


NO_SALES = Sales()


def with_descendants(category_ids: Iterable[int]) -> set[int]:
    """Return the categories and every one below them (a promotion on a category covers its
    subcategories): a read a level, the tree being shallow."""
    found = set(category_ids)
    frontier = set(found)
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= frontier
    return found


# The sales not yet ended, as read last, with when each starts: kept for SALES_CACHE_SECONDS so
# that the cart, the checkout and placement do not read them on every request. Whether each runs
# is decided at each use, so a sale starts and ends on the second; a staff edit forgets them in
# its own process (catalog_cache_clear), other processes within those seconds.
_kept: list[tuple[float, tuple[tuple[Sale, datetime | None], ...]]] = []


def sales_forget() -> None:
    """Forget the sales kept in this process (after staff change one)."""
    _kept.clear()


def _sale_definitions(now: datetime) -> tuple[tuple[Sale, datetime | None], ...]:
    seconds = settings.SALES_CACHE_SECONDS
    if seconds and _kept and _kept[0][0] > time.monotonic():
        return _kept[0][1]
    promotions = (
        Promotion.objects.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now), kind=Promotion.Kind.SALE, is_active=True
        )
        .prefetch_related("products", "categories")
        .order_by("created_at", "pk")
    )
    found = []
    for promotion in promotions:
        categories = with_descendants(category.pk for category in promotion.categories.all())
        sale = Sale(
            promotion_id=promotion.pk,
            name=promotion.name,
            percent=promotion.percent,
            amount=promotion.amount,
            product_ids=frozenset(product.pk for product in promotion.products.all()),
            category_ids=frozenset(categories),
            ends_at=promotion.ends_at,
        )
        found.append((sale, promotion.starts_at))
    if seconds:
        _kept[:] = [(time.monotonic() + seconds, tuple(found))]
    return tuple(found)


def live_sales(now: datetime | None = None) -> Sales:
    """Return the sales running now (one query when none is set up, three and a read a category
    level when some are; none while they are kept)."""
    now = now or timezone.now()
    running = [
        sale
        for sale, starts_at in _sale_definitions(now)
        if (starts_at is None or starts_at <= now) and (sale.ends_at is None or sale.ends_at > now)
    ]
    return Sales(running=tuple(running))


alive_sales = sync_to_async(live_sales)
