"""Refunds give back their share of the order's tax: a refunded line its own tax, an amount its
proportion of what is left, every unit and every penny accounted for once."""

from decimal import Decimal

import pytest

from checkout.models import OrderTax, Refund
from checkout.services.refunds import refund_claim
from shop.exceptions import InvalidInput
from tests.factories import OrderFactory, OrderLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order():
    """Two jumpers at £12.00 incl. 20 % VAT (net 10.00 + 2.00 each), a car seat at £10.50 incl.
    5 % (10.00 + 0.50), delivery £6.00 incl. 20 % (5.00 + 1.00): £40.50 with £5.50 VAT."""
    order = OrderFactory(subtotal=3000, shipping_total=500, shipping_tax=100, tax_total=550, total=4050)
    jumpers = OrderLineFactory(
        order=order,
        unit_price=1200,
        quantity=2,
        net=2000,
        tax=400,
        tax_rate=Decimal(20),
        product_title="Jumper",
    )
    seat = OrderLineFactory(order=order, unit_price=1050, quantity=1, net=1000, tax=50, tax_rate=Decimal(5))
    OrderTax.objects.create(order=order, rate=20, net=2500, tax=500)
    OrderTax.objects.create(order=order, rate=5, net=1000, tax=50)
    payment = PaymentFactory(order=order)
    return order, payment, jumpers, seat


def _claim(order, payment, key, **what):
    return refund_claim(
        order_id=order.pk,
        payment_id=payment.pk,
        reason="",
        request_key=key,
        actor_id=None,
        **{"amount": None, **what},
    )


def test_the_order_adds_up_as_the_fixture_says(paid_order):
    order, _payment, jumpers, seat = paid_order
    assert jumpers.gross + seat.gross + order.shipping_gross == order.total == 4050


def test_refunding_a_line_gives_back_that_lines_tax(paid_order):
    order, payment, _jumpers, seat = paid_order
    refund = _claim(order, payment, "seat", lines={seat.pk: 1})
    assert (refund.amount, refund.tax) == (1050, 50)  # the seat's gross and its 5 % VAT, not 20 %
    assert [(line.quantity, line.amount, line.tax) for line in refund.lines.all()] == [(1, 1050, 50)]


def test_refunding_units_one_by_one_gives_back_the_whole_line_exactly(paid_order):
    order, payment, jumpers, _seat = paid_order
    first = _claim(order, payment, "one", lines={jumpers.pk: 1})
    second = _claim(order, payment, "two", lines={jumpers.pk: 1})
    assert (first.amount, first.tax) == (second.amount, second.tax) == (1200, 200)
    with pytest.raises(InvalidInput, match="At most 0 of Jumper"):
        _claim(order, payment, "three", lines={jumpers.pk: 1})
    assert Refund.objects.count() == 2


def test_odd_units_share_the_pennies_so_the_line_adds_up():
    # 3 units, £10.00 gross with £1.67 tax: 333 + 334 + 333 = 1000 and 56 + 55 + 56 = 167.
    order = OrderFactory(subtotal=833, tax_total=167, total=1000)
    line = OrderLineFactory(order=order, unit_price=333, quantity=3, line_total=999, net=833, tax=167)
    payment = PaymentFactory(order=order)
    parts = [_claim(order, payment, f"unit-{n}", lines={line.pk: 1}) for n in range(3)]
    assert [(refund.amount, refund.tax) for refund in parts] == [(333, 56), (334, 55), (333, 56)]


def test_an_amount_gives_back_its_proportion_and_the_last_refund_all_that_is_left(paid_order):
    order, payment, _jumpers, _seat = paid_order
    tenth = _claim(order, payment, "tenth", amount=405)
    assert tenth.tax == 55  # 405 × 550 / 4050 = 55
    odd = _claim(order, payment, "odd", amount=1001)
    assert odd.tax == 136  # 1001 × 495 / 3645 = 135.94 -> 136
    rest = _claim(order, payment, "rest", amount=4050 - 405 - 1001)
    assert rest.tax == 550 - 55 - 136  # all the tax not yet given back
    assert sum(refund.tax for refund in Refund.objects.all()) == order.tax_total


def test_bad_refund_lines_are_refused_with_nothing_written(paid_order):
    order, payment, jumpers, _seat = paid_order
    other = OrderLineFactory()
    with pytest.raises(InvalidInput, match="not part of this order"):
        _claim(order, payment, "other", lines={other.pk: 1})
    with pytest.raises(InvalidInput, match="At most 2 of Jumper"):
        _claim(order, payment, "many", lines={jumpers.pk: 3})
    with pytest.raises(InvalidInput, match="more than zero"):
        _claim(order, payment, "none")
    assert not Refund.objects.exists()
