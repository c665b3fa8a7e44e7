"""The audit's checks of promotions: a code's uses never pass its limit and follow their orders,
and every discount on an order comes from a code that was valid when the order was placed."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, F, Q

from checkout.audit_rules import first_rows, money_text, sum_by_order
from checkout.models import Order, OrderLine
from promotions.models import CodeUse, DiscountCode

_LIVE = [CodeUse.Status.HELD, CodeUse.Status.CONSUMED]
# Where each order's code use must stand, by the order's payment (a canceled order paid nothing).
_USE_FOR_PAYMENT = {
    Order.PaymentStatus.AWAITING: [CodeUse.Status.HELD],
    Order.PaymentStatus.VOIDED: [CodeUse.Status.RELEASED],
}


def check_code_uses() -> Iterable[str]:
    """Yield each code whose counted uses differ from its live uses or pass its limit, and each use
    whose state disagrees with its order's payment."""
    codes = first_rows(
        DiscountCode.objects.annotate(live=Count("code_uses", filter=Q(code_uses__status__in=_LIVE)))
        .filter(~Q(uses=F("live")) | Q(usage_limit__isnull=False, live__gt=F("usage_limit")))
        .order_by("pk")
    )
    for code in codes:
        limit = "none" if code.usage_limit is None else code.usage_limit
        yield f"Code {code.code} counts {code.uses} uses, but {code.live} orders have it (limit {limit})."
    uses = first_rows(CodeUse.objects.select_related("order", "code").order_by("pk"))
    for use in uses:
        wanted = _USE_FOR_PAYMENT.get(use.order.payment_status, [CodeUse.Status.CONSUMED])
        if use.status not in wanted:
            yield (
                f"Order {use.order.number}'s use of code {use.code.code} is {use.status}, but the order is "
                f"{use.order.get_payment_status_display().lower()}."
            )


def check_order_discounts() -> Iterable[str]:
    """Yield each order whose discount has no code use of its own code, lies outside its promotion's
    dates, or is not its lines' discounts (and delivery's)."""
    orders = first_rows(
        Order.objects.exclude(discount_code="", discount_total=0)
        .annotate(lines_discount=sum_by_order(OrderLine.objects.all(), "discount"))
        .select_related("code_use__code__promotion")
        .order_by("pk")
    )
    for order in orders:
        use = getattr(order, "code_use", None)
        promotion = use.promotion if use else None
        if use is None or use.code.code != order.discount_code:
            off, code = money_text(order.discount_total, order.currency), order.discount_code or "(none)"
            yield f"Order {order.number} has a discount of {off} but no use of code {code}."
        elif (promotion.starts_at and order.created_at < promotion.starts_at) or (
            promotion.ends_at and order.created_at >= promotion.ends_at
        ):
            yield f"Order {order.number} used code {order.discount_code} outside its promotion's dates."
        elif order.lines_discount > order.discount_total:
            lines, whole = (
                money_text(value, order.currency) for value in (order.lines_discount, order.discount_total)
            )
            yield f"Order {order.number}'s lines were discounted {lines}, more than its discount {whole}."
