"""The audit's order-totals check: an order's lines, delivery and tax per rate add up to what it charges."""

from decimal import Decimal

import pytest

from checkout.audit import audit_run
from checkout.models import Order, OrderLine, OrderTax
from tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def _order_total_problems() -> list[str]:
    return next(result.problems for result in audit_run().results if result.name == "order-totals")


@pytest.fixture
def order():
    """£12.00 incl. 20 % VAT (10.00 + 2.00) and £6.00 delivery incl. 20 % (5.00 + 1.00)."""
    order = OrderFactory(subtotal=1000, shipping_total=500, shipping_tax=100, tax_total=300, total=1800)
    OrderLineFactory(order=order, unit_price=1200, net=1000, tax=200, tax_rate=Decimal(20))
    OrderTax.objects.create(order=order, rate=20, net=1500, tax=300)
    return order


def test_an_order_that_adds_up_passes(order):
    assert _order_total_problems() == []


def test_line_tax_that_does_not_add_up_to_the_order_tax_is_reported(order):
    OrderLine.objects.filter(order=order).update(tax=199, net=1000)
    assert _order_total_problems() == [
        f"Order {order.number}'s tax £3.00 is not its lines' tax £1.99 plus the delivery's £1.00."
    ]


def test_a_net_subtotal_that_is_not_its_lines_is_reported(order):
    OrderLine.objects.filter(order=order).update(net=1001)
    assert _order_total_problems() == [
        f"Order {order.number}'s subtotal £10.00 is not the sum of its lines' net, £10.01."
    ]


def test_tax_per_rate_that_does_not_add_up_is_reported(order):
    OrderTax.objects.filter(order=order).update(tax=299)
    assert _order_total_problems() == [
        f"Order {order.number}'s tax per rate adds up to £2.99, not its tax £3.00."
    ]
    OrderTax.objects.filter(order=order).update(tax=300, net=1400)
    assert _order_total_problems() == [
        f"Order {order.number}'s tax per rate was charged on £14.00, "
        "not on its net goods and delivery £15.00."
    ]


def test_tax_charged_with_no_rate_recorded_is_reported(order):
    OrderTax.objects.filter(order=order).delete()
    assert Order.objects.get().tax_total == 300
    assert _order_total_problems() == [
        f"Order {order.number}'s tax per rate adds up to £0.00, not its tax £3.00."
    ]
