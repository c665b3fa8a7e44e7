"""The tax inside a refund: a refund of order lines gives back those lines' tax; a refund of
an amount gives back the order's tax in proportion, so that refunding everything returns
exactly all of it. Called under the order's lock, with the refunds already made counted."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from django.db.models import Sum

from checkout.models import Order, OrderLine, Refund, RefundLine
from shop.exceptions import InvalidInput
from taxes.calc import round_half_up

LIVE = [Refund.Status.PENDING, Refund.Status.SUCCEEDED]


@dataclass(frozen=True)
class LinePart:
    """Part of an order line given back: how many, their gross and the tax inside it."""

    line: OrderLine
    quantity: int
    amount: int
    tax: int


def _refunded(order: Order) -> tuple[int, int]:
    """Return the gross and the tax given back (or being given back) on the order so far."""
    done = Refund.objects.filter(order=order, status__in=LIVE).aggregate(amount=Sum("amount"), tax=Sum("tax"))
    return done["amount"] or 0, done["tax"] or 0


def refund_tax_share(order: Order, amount: int) -> int:
    """Return the tax inside a refund of `amount`: the tax not yet given back, in proportion to
    the gross not yet given back (all that is left when the refund takes all that is left)."""
    amount_done, tax_done = _refunded(order)
    gross_left, tax_left = order.total - amount_done, order.tax_total - tax_done
    if gross_left <= 0 or tax_left <= 0:
        return 0
    if amount >= gross_left:
        return tax_left
    return min(round_half_up(Fraction(amount * tax_left, gross_left)), tax_left)


def _part(line: OrderLine, quantity: int, already: int) -> LinePart:
    """Return `quantity` more of the line given back, `already` having been: each unit's share
    comes from the running totals, so giving back every unit returns the line's gross and tax."""

    def share(value: int, units: int) -> int:
        return round_half_up(Fraction(value * units, line.quantity))

    amount = share(line.gross, already + quantity) - share(line.gross, already)
    tax = share(line.tax, already + quantity) - share(line.tax, already)
    return LinePart(line=line, quantity=quantity, amount=amount, tax=tax)


def refund_line_parts(order: Order, quantities: dict[int, int]) -> list[LinePart]:
    """Return what refunding `quantities` (order line id -> how many) gives back; raise InvalidInput
    for a line not of this order, or more of a line than is left to refund."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=list(quantities))}
    done = dict(
        RefundLine.objects.filter(refund__order=order, refund__status__in=LIVE, order_line_id__in=list(lines))
        .values("order_line_id")
        .annotate(quantity=Sum("quantity"))
        .values_list("order_line_id", "quantity")
    )
    parts = []
    for line_id, quantity in quantities.items():
        line = lines.get(line_id)
        if line is None:
            raise InvalidInput("That line is not part of this order.")
        left = line.quantity - done.get(line_id, 0)
        if quantity < 1 or quantity > left:
            raise InvalidInput(f"At most {left} of {line.product_title} can still be refunded.")
        parts.append(_part(line, quantity, done.get(line_id, 0)))
    return parts
