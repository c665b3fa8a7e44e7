from django import template

from checkout.models import Order, OrderLine
from checkout.receipts import TotalsShown, totals_shown

register = template.Library()


@register.simple_tag
def order_totals_shown(order: Order, lines: list[OrderLine]) -> TotalsShown:
    """Return the order's totals as its pages list them: {% order_totals_shown order lines as shown %}."""
    return totals_shown(order=order, lines=lines)
