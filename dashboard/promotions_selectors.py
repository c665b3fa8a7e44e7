"""Reads for the staff's promotions pages: the list with each promotion's figures, one
promotion's codes and its history, and its codes as CSV rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Func, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from checkout.models import Order, OrderDiscount
from promotions.models import CodeUse, DiscountCode, Promotion, PromotionEvent
from promotions.texts import reward_text

# Orders that were paid for: partly refunded ones still count, refunded and voided ones do not.
PAID = [Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED]
ACTIVE, PAUSED, SCHEDULED, ENDED = "active", "paused", "scheduled", "ended"


@dataclass(frozen=True)
class Figures:
    orders: int = 0  # paid orders with one of the promotion's codes, or with its sale prices
    revenue: int = 0  # their totals, minor units
    discount: int = 0  # what the promotion took off them (a sale: below list prices), minor units


@dataclass(frozen=True)
class PromotionRow:
    promotion: Promotion
    reward: str  # "10 % off"
    covers: str  # "Whole order", "2 products, 1 category"
    status: str  # active, paused, scheduled or ended
    codes: int
    uses: int  # consumed: paid orders
    figures: Figures


def promotion_status(promotion: Promotion, *, now: datetime) -> str:
    """Return whether the promotion is active, paused, scheduled (starts later) or ended."""
    if promotion.ends_at and now >= promotion.ends_at:
        return ENDED
    if not promotion.is_active:
        return PAUSED
    if promotion.starts_at and now < promotion.starts_at:
        return SCHEDULED
    return ACTIVE


def _count(queryset: QuerySet) -> Coalesce:
    """Return a correlated COUNT of `queryset` (filtered on OuterRef), 0 when there is none."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _covers(products: int, categories: int) -> str:
    parts = [f"{products} product{'' if products == 1 else 's'}"] if products else []
    parts += [f"{categories} categor{'y' if categories == 1 else 'ies'}"] if categories else []
    return ", ".join(parts) or "Whole order"


def _promotions() -> QuerySet[Promotion]:
    outer = OuterRef("pk")
    return Promotion.objects.annotate(
        code_count=_count(DiscountCode.objects.filter(promotion=outer)),
        use_count=_count(CodeUse.objects.filter(promotion=outer, status=CodeUse.Status.CONSUMED)),
        product_count=_count(Promotion.products.through.objects.filter(promotion=outer)),
        category_count=_count(Promotion.categories.through.objects.filter(promotion=outer)),
    )


async def _figures(promotion_id: int | None = None) -> dict[int, Figures]:
    """Return the paid orders' figures per promotion, from what each order kept of it (one query)."""
    rows = OrderDiscount.objects.filter(order__payment_status__in=PAID)
    if promotion_id is not None:
        rows = rows.filter(promotion_id=promotion_id)
    grouped = (
        rows.values("promotion_id")
        .annotate(orders=Count("order_id"), revenue=Sum("order__total"), discount=Sum("amount"))
        .order_by()
    )
    return {
        row["promotion_id"]: Figures(row["orders"], row["revenue"], row["discount"]) async for row in grouped
    }


def _row(promotion: Promotion, figures: dict[int, Figures], now: datetime) -> PromotionRow:
    return PromotionRow(
        promotion=promotion,
        reward=reward_text(promotion),
        covers=_covers(promotion.product_count, promotion.category_count),
        status=promotion_status(promotion, now=now),
        codes=promotion.code_count,
        uses=promotion.use_count,
        figures=figures.get(promotion.pk, Figures()),
    )


async def promotion_rows() -> list[PromotionRow]:
    """Return every promotion, newest first, with its codes, uses and paid orders (two queries)."""
    now = timezone.now()
    figures = await _figures()
    return [_row(promotion, figures, now) async for promotion in _promotions()]


async def promotion_row(promotion_id: int) -> PromotionRow | None:
    """Return one promotion as the list shows it, or None (two queries)."""
    promotion = await _promotions().filter(pk=promotion_id).afirst()
    if promotion is None:
        return None
    return _row(promotion, await _figures(promotion_id), timezone.now())


async def promotion_covered(promotion: Promotion) -> tuple[list[str], list[str]]:
    """Return the titles of the products and the names of the categories it covers."""
    products = [title async for title in promotion.products.order_by("title").values_list("title", flat=True)]
    categories = [name async for name in promotion.categories.order_by("name").values_list("name", flat=True)]
    return products, categories


def promotion_codes(promotion_id: int) -> QuerySet[DiscountCode]:
    """Return the promotion's codes in code order, for a page at a time."""
    return DiscountCode.objects.filter(promotion_id=promotion_id).order_by("code")


async def promotion_events(promotion_id: int) -> list[PromotionEvent]:
    """Return the promotion's history, newest first, with who made each change (one query)."""
    events = PromotionEvent.objects.filter(promotion_id=promotion_id).select_related("actor")
    return [event async for event in events.order_by("-created_at", "-id")]


async def code_rows(promotion_id: int, *, chunk: int) -> AsyncIterator[list[tuple[str, int | None, int]]]:
    """Yield the promotion's codes as (code, usage_limit, uses), `chunk` at a time in code order:
    each chunk one indexed query, never all in memory."""
    last = ""
    while True:
        codes = promotion_codes(promotion_id).filter(code__gt=last).values_list("code", "usage_limit", "uses")
        rows = [row async for row in codes[:chunk]]
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        last = rows[-1][0]
