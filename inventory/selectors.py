"""Reads of this shop's own stock table, for the pages and checks that show stock.

The checkout holds, commits and gives back stock only through the inventory API
(checkout/clients/inventory.py), so `INVENTORY_API_URL` may point it at another
system. The reads here do not go through the API: they join this shop's own
stock table (`inventory.models.Stock`) into the page's own query, which keeps
each page at its fixed number of queries and adds no network wait to it.

What breaks when `INVENTORY_API_URL` points at another system: these reads then
show this shop's own stock table, not the other system's stock.
- The cart (`variant_available`, through `with_stock`): "only N left" and the
  refusal to add more than is available use this shop's numbers. The other
  system stays the judge at placement: an order it cannot fill is refused there
  as out of stock, naming the item and what it has left.
- The staff dashboard's low-stock, out-of-stock and stock lists show this
  shop's table, and stock adjusted there changes this shop's table only.
- The audit's stock checks (`stock_out_of_bounds`, `stock_allocated_unlike_holds`)
  check this shop's table against this shop's reservations: both untouched by
  the other system, so the checks pass and say nothing about its stock.
Placing, paying, cancelling and refunding orders are unaffected.
"""

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from catalog.models import Variant
from inventory.models import Reservation, ReservationLine, Stock


def with_stock[T: QuerySet](rows: T, *, variant: str = "") -> T:
    """Return `rows` with each variant's stock row joined in (no extra query).

    `variant` is the path from the rows to their variant ("variant" for cart
    lines); empty when the rows are variants.
    """
    return rows.select_related(f"{variant}__stock" if variant else "stock")


def variant_available(variant: Variant) -> int:
    """Return the units of a variant (loaded through `with_stock`) that can still be sold."""
    stock = getattr(variant, "stock", None)
    return stock.available if stock else 0


def _units() -> F:
    return F("on_hand") - F("allocated")


def stock_low() -> QuerySet[Stock]:
    """Return the stock of active SKUs still in stock but at or below their own threshold, lowest first."""
    return (
        Stock.objects.alias(units=_units())
        .filter(units__gt=0, units__lte=F("low_stock_threshold"), variant__is_active=True)
        .select_related("variant__product")
        .order_by("units", "variant__sku")
    )


def stock_out() -> QuerySet[Stock]:
    """Return the stock of active SKUs with nothing left to sell (not ordered)."""
    return Stock.objects.alias(units=_units()).filter(units__lte=0, variant__is_active=True)


def stock_search(*, query: str, level: str) -> QuerySet[Stock]:
    """Return stock rows whose SKU or product title contains `query`, at `level` ("out", "low", or any)."""
    rows = Stock.objects.select_related("variant__product").alias(units=_units())
    if query.strip():
        rows = rows.filter(
            Q(variant__sku__icontains=query.strip()) | Q(variant__product__title__icontains=query.strip())
        )
    if level == "out":
        rows = rows.filter(units__lte=0)
    elif level == "low":
        rows = rows.filter(units__gt=0, units__lte=F("low_stock_threshold"))
    return rows.order_by("variant__sku")


def stock_out_of_bounds() -> QuerySet[Stock]:
    """Return stock rows with a negative count or more allocated than on hand, by SKU."""
    return (
        Stock.objects.filter(Q(on_hand__lt=0) | Q(allocated__lt=0) | Q(allocated__gt=F("on_hand")))
        .select_related("variant")
        .order_by("variant__sku")
    )


def stock_allocated_unlike_holds() -> QuerySet[Stock]:
    """Return stock rows whose `allocated` differs from what held reservations hold (`held`), by SKU."""
    held = (
        ReservationLine.objects.filter(
            variant=OuterRef("variant"), reservation__status=Reservation.Status.HELD
        )
        .values("variant")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return (
        Stock.objects.annotate(held=Coalesce(Subquery(held, output_field=IntegerField()), 0))
        .exclude(allocated=F("held"))
        .select_related("variant")
        .order_by("variant__sku")
    )
