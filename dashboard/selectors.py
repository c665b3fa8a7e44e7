"""Reads for the staff dashboard, built to stay fast with millions of orders.

Sales figures aggregate paid orders by `paid_at` through a partial covering index
(paid_at INCLUDE total), so a 30-day window is an index-only scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from checkout.models import Order, Refund, WebhookEvent
from checkout.webhooks import HANDLERS, REFUSED_TYPE
from inventory import selectors as stock_selectors
from inventory.models import Stock, StockAdjustment
from shop.money import format_money

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


def period_starts(now: datetime) -> dict[str, datetime]:
    """Return the local midnights starting today, the last 7 days and the last 30 days."""
    starts = _local_midnights(now, 30)
    return {"today": starts[29], "7 days": starts[23], "30 days": starts[0]}


@dataclass(frozen=True)
class DayPoint:
    day: date
    revenue: int
    orders: int


def _local_midnights(now: datetime, days: int) -> list[datetime]:
    """Return the local midnights starting each of the last `days` days, then tomorrow's.

    Built in the shop's time zone, so a day with a clock change is 23 or 25 hours long.
    """
    today = timezone.localdate(now)
    zone = timezone.get_current_timezone()
    return [
        datetime.combine(today - timedelta(days=days - 1 - offset), time.min, tzinfo=zone)
        for offset in range(days + 1)
    ]


_DAILY_SQL = """
    SELECT bounds.position, day.revenue, day.orders
    FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS bounds(start_at, end_at, position)
    CROSS JOIN LATERAL (
        SELECT COALESCE(SUM(o.total), 0) AS revenue, COUNT(o.paid_at) AS orders
        FROM checkout_order AS o
        WHERE o.paid_at >= bounds.start_at AND o.paid_at < bounds.end_at
    ) AS day
    ORDER BY bounds.position
"""


def _daily_sales_sync(starts: list[datetime]) -> list[tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_DAILY_SQL, [starts[:-1], starts[1:]])
        return cursor.fetchall()


async def daily_sales(*, now: datetime, days: int = 30) -> list[DayPoint]:
    """Return revenue and orders per local day for the last `days` days, oldest first, zeros included.

    One range aggregate per day over the index on paid_at: no per-row time-zone conversion or sort.
    """
    starts = _local_midnights(now, days)
    rows = await sync_to_async(_daily_sales_sync)(starts)
    return [
        DayPoint(day=starts[position - 1].date(), revenue=int(revenue), orders=int(orders))
        for position, revenue, orders in rows
    ]


async def sales_figures(*, now: datetime, points: list[DayPoint] | None = None) -> list[PeriodFigures]:
    """Return revenue, orders, average order value and refunds for today, 7 and 30 days.

    Sales add up the daily points (the same local days as the chart); refunds are one query.
    """
    points = points if points is not None else await daily_sales(now=now, days=30)
    starts = period_starts(now)
    windows = {"Today": (1, "today"), "Last 7 days": (7, "7 days"), "Last 30 days": (30, "30 days")}
    refunds = await Refund.objects.filter(
        created_at__gte=starts["30 days"], status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
    ).aaggregate(
        **{
            f"refunds_{n}": Sum("amount", filter=Q(created_at__gte=starts[key]))
            for n, key in windows.values()
        }
    )
    return [
        PeriodFigures(
            label=label,
            revenue=sum(point.revenue for point in points[-n:]),
            orders=sum(point.orders for point in points[-n:]),
            refunds=refunds[f"refunds_{n}"] or 0,
        )
        for label, (n, _key) in windows.items()
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


def chart_svg(chart: Chart, *, currency: str) -> SafeString:
    """Return the chart as inline SVG markup, escaped, built in one pass (cheaper than a template loop)."""
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {}, {} order(s)</title></rect>',
        (
            (x, y, w, h, point.day.strftime("%a %d %b"), format_money(point.revenue, currency), point.orders)
            for x, y, w, h, point in chart.bars
        ),
    )
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="2.5" class="dot"/>', ((x, y) for x, y, _ in chart.dots)
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" class="label">{}</text>',
        ((x, chart.height - 10, label) for x, label in chart.labels),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title chart-desc">'
        '<title id="chart-title">Revenue and orders per day for the last 30 days</title>'
        '<desc id="chart-desc">Bars show revenue (highest {max_revenue}); '
        "the line shows orders (highest {max_orders}).</desc>"
        '<line x1="28" y1="{axis}" x2="{axis_end}" y2="{axis}" class="axis"/>{bars}'
        '<polyline points="{line}" class="line" fill="none"/>{dots}{labels}'
        '<text x="30" y="20" class="label">{max_revenue}</text></svg>',
        w=chart.width,
        h=chart.height,
        axis=chart.height - 28,
        axis_end=chart.width - 28,
        max_revenue=format_money(chart.max_revenue, currency),
        max_orders=chart.max_orders,
        bars=bars,
        line=chart.line,
        dots=dots,
        labels=labels,
    )


#: Open orders whose money is in (a partial refund included) and whose goods are not all sent.
#: A refund never hides a shipment: a shipped order partly refunded is closed, not waiting.
WAITING_TO_SHIP = Q(
    status=Order.Status.OPEN,
    payment_status__in=[Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED],
    fulfilment_status__in=[Order.FulfilmentStatus.UNFULFILLED, Order.FulfilmentStatus.PARTIALLY_FULFILLED],
)


async def orders_awaiting_fulfilment(*, limit: int = LIST_LIMIT) -> tuple[list[Order], int]:
    """Return the oldest paid orders not yet shipped, and how many there are.

    Flagged ones stay in the list (marked): they are paid, and staff decide.
    """
    waiting = Order.objects.filter(WAITING_TO_SHIP)
    return [order async for order in waiting.order_by("paid_at")[:limit]], await waiting.acount()


async def flagged_orders(*, limit: int = LIST_LIMIT) -> list[Order]:
    return [order async for order in Order.objects.filter(is_flagged=True).order_by("-created_at")[:limit]]


STOCK_LIST_LIMIT = 10


async def low_stock(*, limit: int = STOCK_LIST_LIMIT) -> list[Stock]:
    """Return SKUs still in stock but at or below their own threshold, lowest first."""
    return [row async for row in stock_selectors.stock_low()[:limit]]


async def out_of_stock(*, limit: int = STOCK_LIST_LIMIT) -> tuple[list[Stock], int]:
    rows = stock_selectors.stock_out()
    listed = rows.select_related("variant__product").order_by("variant__sku")
    return [row async for row in listed[:limit]], await rows.acount()


async def recent_webhook_events(*, limit: int = 15) -> list[WebhookEvent]:
    """Return the latest payment events the shop acts on, and signed deliveries it refused.

    Events of other types (kept before the shop stopped keeping them) are left out.
    """
    shown = WebhookEvent.objects.filter(type__in=[*HANDLERS, REFUSED_TYPE])
    return [event async for event in shown.defer("payload").order_by("-received_at")[:limit]]


#: The order list's status filter for "Waiting to ship" (see WAITING_TO_SHIP).
TO_SHIP = "to_ship"


@dataclass(frozen=True)
class OrderFilters:
    query: str = ""
    status: str = ""
    payment_status: str = ""
    fulfilment_status: str = ""
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
    if filters.status == TO_SHIP:
        orders = orders.filter(WAITING_TO_SHIP)
    elif filters.status:
        orders = orders.filter(status=filters.status)
    if filters.payment_status:
        orders = orders.filter(payment_status=filters.payment_status)
    if filters.fulfilment_status:
        orders = orders.filter(fulfilment_status=filters.fulfilment_status)
    if filters.date_from:
        orders = orders.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        orders = orders.filter(created_at__date__lte=filters.date_to)
    if filters.flagged:
        orders = orders.filter(is_flagged=True)
    return orders.order_by("-created_at", "-id")


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
        .prefetch_related("lines", "payments", "discounts", "refunds__created_by", "events__actor")
        .afirst()
    )
