"""The order list as CSV, streamed a chunk of rows at a time, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from django.db.models import Q
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from checkout.models import Order
from dashboard import selectors
from dashboard.forms import OrderFilterForm
from dashboard.views import staff_required
from shop.money import to_major_units

EXPORT_CHUNK = 2000
CSV_HEADER = [
    "number",
    "created_at",
    "paid_at",
    "status",
    "payment_status",
    "fulfilment_status",
    "email",
    "full_name",
    "country",
    "currency",
    "subtotal_net",
    "shipping_net",
    "tax",
    "total",
    "flagged",
]
# The order field behind each column whose name differs; the id last, for the keyset pages.
RENAMED_FIELDS = {
    "subtotal_net": "subtotal",
    "shipping_net": "shipping_total",
    "tax": "tax_total",
    "flagged": "is_flagged",
}
FIELDS = (*(RENAMED_FIELDS.get(column, column) for column in CSV_HEADER), "id")


async def _csv_rows(filters: selectors.OrderFilters) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return value

    writer.writerow(CSV_HEADER)
    yield take()
    orders = selectors.order_search(filters)
    last: tuple | None = None
    while True:
        # Keyset pages in the list's own order (newest first): each is one indexed query.
        page = orders
        if last is not None:
            page = page.filter(Q(created_at__lt=last[0]) | Q(created_at=last[0], id__lt=last[1]))
        rows = [row async for row in page.values_list(*FIELDS)[:EXPORT_CHUNK]]
        for number, created, paid, status, payment, goods, email, name, country, currency, *rest in rows:
            *amounts, flagged, _id = rest
            writer.writerow(
                [
                    number,
                    created.isoformat(),
                    paid.isoformat() if paid else "",
                    Order.Status(status).label,
                    Order.PaymentStatus(payment).label,
                    Order.FulfilmentStatus(goods).label,
                    _csv_safe(email),
                    _csv_safe(name),
                    country,
                    currency,
                    *(format(to_major_units(amount, currency), "f") for amount in amounts),
                    "yes" if flagged else "no",
                ]
            )
        yield take()
        if len(rows) < EXPORT_CHUNK:
            return
        last = (rows[-1][1], rows[-1][-1])


# What a spreadsheet program may read as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a customer's text as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


@require_safe
@staff_required("orders")
async def order_export(request: HttpRequest) -> StreamingHttpResponse:
    """Stream the filtered orders as CSV, a chunk at a time (never all in memory)."""
    filters = OrderFilterForm(request.GET).filters()
    response = StreamingHttpResponse(_csv_rows(filters), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y-%m-%d}.csv"'
    return response
