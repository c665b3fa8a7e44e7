"""Reads for the staff dashboard, built to stay fast with millions of orders.

Sales figures aggregate paid orders by `paid_at` through a partial covering index
(paid_at INCLUDE total), so a 30-day window is an index-only scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from catalog.models import Stock, StockAdjustment
from checkout.models import Order, Refund, WebhookEvent

LIST_LIMIT = 20


@dataclass(frozen=True)
class PeriodFigures:
    label: str
    revenue: int
    orders: int
    refunds: int

    @property
    def average_order_value(self) -> int:
        return round(self.revenue / self.orders) if self.orders else 0

    @property
    def net(self) -> int:
        return self.revenue - self.refunds


def period_starts(now: datetime) -> dict[str, datetime]:
    """Return the start of today, the last 7 days and the last 30 days, in the shop's time zone."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": today, "7 days": today - timedelta(days=6), "30 days": today - timedelta(days=29)}


async def sales_figures(*, now: datetime) -> list[PeriodFigures]:
    """Return revenue, orders, average order value and refunds for today, 7 and 30 days (2 queries)."""
    starts = period_starts(now)
    keys = {"today": "d1", "7 days": "d7", "30 days": "d30"}
    sales = await Order.objects.filter(paid_at__gte=starts["30 days"]).aaggregate(
        **{f"revenue_{k}": Sum("total", filter=Q(paid_at__gte=starts[label])) for label, k in keys.items()},
        **{
            f"orders_{k}": Count("paid_at", filter=Q(paid_at__gte=starts[label])) for label, k in keys.items()
        },
    )
    refunds = await Refund.objects.filter(
        created_at__gte=starts["30 days"], status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
    ).aaggregate(
        **{
            f"refunds_{k}": Sum("amount", filter=Q(created_at__gte=starts[label]))
            for label, k in keys.items()
        }
    )
    return [
        PeriodFigures(
            label=label.capitalize() if label == "today" else f"Last {label}",
            revenue=sales[f"revenue_{k}"] or 0,
            orders=sales[f"orders_{k}"] or 0,
            refunds=refunds[f"refunds_{k}"] or 0,
        )
        for label, k in keys.items()
    ]


@dataclass(frozen=True)
class DayPoint:
    day: date
    revenue: int
    orders: int


async def daily_sales(*, now: datetime, days: int = 30) -> list[DayPoint]:
    """Return revenue and orders per day for the last `days` days, oldest first, zeros included."""
    start = period_starts(now)["today"] - timedelta(days=days - 1)
    rows = {
        row["day"]: row
        async for row in Order.objects.filter(paid_at__gte=start)
        .annotate(day=TruncDate("paid_at"))
        .values("day")
        .annotate(revenue=Sum("total"), orders=Count("paid_at"))
        .order_by("day")
    }
    first = start.date()
    return [
        DayPoint(
            day=first + timedelta(days=offset),
            revenue=(rows.get(first + timedelta(days=offset)) or {}).get("revenue") or 0,
            orders=(rows.get(first + timedelta(days=offset)) or {}).get("orders") or 0,
        )
        for offset in range(days)
    ]


@dataclass(frozen=True)
class Chart:
    """A bar (revenue) and line (orders) chart, laid out for an inline SVG."""

    width: int
    height: int
    bars: list[tuple[float, float, float, float, DayPoint]]  # x, y, width, height, point
    line: str  # polyline points for orders
    dots: list[tuple[float, float, DayPoint]]
    max_revenue: int
    max_orders: int
    labels: list[tuple[float, str]]


def chart_layout(points: list[DayPoint], *, width: int = 720, height: int = 220, pad: int = 28) -> Chart:
    """Return where each bar and point of the sales chart goes. Pure arithmetic, no library."""
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / max(len(points), 1)
    max_revenue = max((p.revenue for p in points), default=0) or 1
    max_orders = max((p.orders for p in points), default=0) or 1
    bars, dots, labels = [], [], []
    for index, point in enumerate(points):
        bar_h = inner_h * point.revenue / max_revenue
        x = pad + index * step
        bars.append(
            (
                round(x + step * 0.15, 1),
                round(pad + inner_h - bar_h, 1),
                round(step * 0.7, 1),
                round(bar_h, 1),
                point,
            )
        )
        cx, cy = round(x + step / 2, 1), round(pad + inner_h - inner_h * point.orders / max_orders, 1)
        dots.append((cx, cy, point))
        last = index == len(points) - 1
        if index % 7 == 0 or (last and index % 7 >= 4):  # keep the last label clear of the one before
            labels.append((cx, point.day.strftime("%d %b")))
    return Chart(
        width=width,
        height=height,
        bars=bars,
        line=" ".join(f"{x},{y}" for x, y, _ in dots),
        dots=dots,
        max_revenue=max_revenue if any(p.revenue for p in points) else 0,
        max_orders=max_orders if any(p.orders for p in points) else 0,
        labels=labels,
    )


async def orders_awaiting_fulfilment(*, limit: int = LIST_LIMIT) -> tuple[list[Order], int]:
    """Return the oldest paid orders not yet shipped, and how many there are."""
    waiting = Order.objects.filter(status=Order.Status.PAID)
    return [order async for order in waiting.order_by("paid_at")[:limit]], await waiting.acount()


async def flagged_orders(*, limit: int = LIST_LIMIT) -> list[Order]:
    return [order async for order in Order.objects.filter(is_flagged=True).order_by("-created_at")[:limit]]


def _available() -> F:
    return F("on_hand") - F("allocated")


STOCK_LIST_LIMIT = 10


async def low_stock(*, limit: int = STOCK_LIST_LIMIT) -> list[Stock]:
    """Return SKUs still in stock but at or below their own threshold, lowest first."""
    rows = (
        Stock.objects.alias(units=_available())
        .filter(units__gt=0, units__lte=F("low_stock_threshold"), variant__is_active=True)
        .select_related("variant__product")
        .order_by("units", "variant__sku")
    )
    return [row async for row in rows[:limit]]


async def out_of_stock(*, limit: int = STOCK_LIST_LIMIT) -> tuple[list[Stock], int]:
    rows = Stock.objects.alias(units=_available()).filter(units__lte=0, variant__is_active=True)
    listed = rows.select_related("variant__product").order_by("variant__sku")
    return [row async for row in listed[:limit]], await rows.acount()


async def recent_webhook_events(*, limit: int = 15) -> list[WebhookEvent]:
    return [event async for event in WebhookEvent.objects.defer("payload").order_by("-received_at")[:limit]]


@dataclass(frozen=True)
class OrderFilters:
    query: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    flagged: bool = False


def order_search(filters: OrderFilters) -> QuerySet[Order]:
    """Return orders matching the staff's search and filters, newest first (not evaluated)."""
    orders = Order.objects.all()
    query = filters.query.strip()
    if query:
        if query.upper().startswith("NW") and query[2:].isdigit():
            orders = orders.filter(number=query.upper())
        elif "@" in query:
            orders = orders.annotate(email_lower=Lower("email")).filter(email_lower=query.lower())
        else:
            orders = orders.filter(
                Q(number__iexact=query) | Q(email__icontains=query) | Q(full_name__icontains=query)
            )
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.date_from:
        orders = orders.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        orders = orders.filter(created_at__date__lte=filters.date_to)
    if filters.flagged:
        orders = orders.filter(is_flagged=True)
    return orders.order_by("-created_at", "-id")


def stock_search(*, query: str, level: str) -> QuerySet[Stock]:
    rows = Stock.objects.select_related("variant__product").alias(units=_available())
    if query.strip():
        rows = rows.filter(
            Q(variant__sku__icontains=query.strip()) | Q(variant__product__title__icontains=query.strip())
        )
    if level == "out":
        rows = rows.filter(units__lte=0)
    elif level == "low":
        rows = rows.filter(units__gt=0, units__lte=F("low_stock_threshold"))
    return rows.order_by("variant__sku")


async def recent_adjustments(*, limit: int = 20) -> list[StockAdjustment]:
    return [
        adjustment
        async for adjustment in StockAdjustment.objects.select_related("variant__product", "user").order_by(
            "-created_at", "-id"
        )[:limit]
    ]


async def order_for_staff(*, number: str) -> Order | None:
    """Return the order with everything its staff page shows: lines, payments, refunds, events."""
    return await (
        Order.objects.filter(number=number)
        .select_related("user")
        .prefetch_related("lines", "payments", "refunds__created_by", "events__actor")
        .afirst()
    )
