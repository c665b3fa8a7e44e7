"""The audit's checks of promotions: a code's uses never pass its limit and follow their orders,
every discount on an order comes from a code that was valid when the order was placed, and every
line sold below its list price was on a sale that ran then."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, F, Q, Sum

from checkout.audit_rules import PROBLEMS_SHOWN, first_rows, money_text, sum_by_order
from checkout.models import Order, OrderDiscount, OrderLine
from promotions.models import CodeUse, DiscountCode, Promotion

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


def _outside(promotion, moment) -> bool:
    return bool(
        (promotion.starts_at and moment < promotion.starts_at)
        or (promotion.ends_at and moment >= promotion.ends_at)
    )


def _code_rows_problem(order: Order) -> str | None:
    """Return what is wrong with one order's code discounts (read with its rows and uses), or None."""
    rows = [row for row in order.discounts.all() if row.kind == OrderDiscount.Kind.CODE]
    uses = {use.promotion_id: use for use in order.code_uses.all()}
    off = money_text(order.discount_total, order.currency)
    if sum(row.amount for row in rows) != order.discount_total:
        listed = money_text(sum(row.amount for row in rows), order.currency)
        return f"Order {order.number} has a discount of {off}, but its codes account for {listed}."
    if order.lines_discount + sum(row.delivery for row in rows) != order.discount_total:
        lines = money_text(order.lines_discount, order.currency)
        return f"Order {order.number}'s lines ({lines}) and delivery do not make up its discount {off}."
    for row in rows:
        use = uses.get(row.promotion_id)
        if use is None or use.code.code != row.code:
            return f"Order {order.number} has a discount from code {row.code} but no use of it."
        if _outside(use.promotion, order.created_at):
            return f"Order {order.number} used code {row.code} outside its promotion's dates."
    if len(uses) != len(rows):
        return f"Order {order.number} holds {len(uses)} code uses but lists {len(rows)} codes."
    return None


def check_order_discounts() -> Iterable[str]:
    """Yield each order whose codes' discounts do not add up to its discount, its lines' and
    delivery's, or come without a use of each code within its promotion's dates."""
    with_codes = Q(discount_total__gt=0) | Q(pk__in=CodeUse.objects.values("order_id"))
    with_codes |= Q(pk__in=OrderDiscount.objects.filter(kind=OrderDiscount.Kind.CODE).values("order_id"))
    orders = (
        Order.objects.filter(with_codes)
        .annotate(lines_discount=sum_by_order(OrderLine.objects.all(), "discount"))
        .prefetch_related("discounts", "code_uses__code", "code_uses__promotion")
        .order_by("pk")
    )
    shown = 0
    for order in orders.iterator(chunk_size=500):
        problem = _code_rows_problem(order)
        if problem:
            yield problem
            shown += 1
            if shown > PROBLEMS_SHOWN:
                return


def check_sale_prices() -> Iterable[str]:
    """Yield each order line whose price is below its list price without a sale that ran when the
    order was placed, and each order whose sales' savings are not its lines'."""
    lines = first_rows(
        OrderLine.objects.filter(Q(list_price__gt=F("unit_price")) | Q(sale__isnull=False))
        .select_related("order", "sale")
        .filter(
            Q(sale__isnull=True)
            | ~Q(sale__kind=Promotion.Kind.SALE)
            | Q(list_price=F("unit_price"))
            | Q(sale__starts_at__gt=F("order__created_at"))
            | Q(sale__ends_at__lte=F("order__created_at"))
        )
        .order_by("pk")
    )
    for line in lines:
        was, now = (money_text(value, line.order.currency) for value in (line.list_price, line.unit_price))
        number = line.order.number
        yield f"Order {number}'s {line.sku} was sold at {now} (list price {was}) without a sale running then."
    saved = (
        OrderLine.objects.filter(sale__isnull=False)
        .values("order_id", "sale_id")
        .annotate(saved=Sum((F("list_price") - F("unit_price")) * F("quantity")))
        .order_by()
    )
    rows = {
        (row.order_id, row.promotion_id): row.amount
        for row in OrderDiscount.objects.filter(kind=OrderDiscount.Kind.SALE).only(
            "order_id", "promotion_id", "amount"
        )
    }
    wrong = [item for item in saved if rows.pop((item["order_id"], item["sale_id"]), None) != item["saved"]]
    wrong_orders = sorted({item["order_id"] for item in wrong} | {order_id for order_id, _sale in rows})
    for number in Order.objects.filter(pk__in=wrong_orders[: PROBLEMS_SHOWN + 1]).values_list(
        "number", flat=True
    ):
        yield f"Order {number}'s sale savings are not what its lines were sold below their list prices."
