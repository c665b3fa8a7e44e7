"""The audit's promotion checks: a code's uses follow their orders, and each discount has its code's use."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout.audit import audit_run
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.factories import OrderFactory, OrderLineFactory, order_code_discount

pytestmark = pytest.mark.django_db


def problems(name: str) -> list[str]:
    return next(result.problems for result in audit_run().results if result.name == name)


@pytest.fixture
def code():
    promotion = Promotion.objects.create(name="Ten off", reward="percent", percent=Decimal(10))
    return DiscountCode.objects.create(promotion=promotion, code="SAVE10", usage_limit=2)


def discounted_order(code, *, status="consumed", **fields):
    order = OrderFactory(discount_total=120, **fields)
    order_code_discount(order, code=code.code, name="Ten off", amount=120, promotion=code.promotion)
    OrderLineFactory(order=order, discount=120)
    CodeUse.objects.create(code=code, promotion=code.promotion, order=order, status=status)
    DiscountCode.objects.filter(pk=code.pk).update(uses=code.uses + (status != "released"))
    code.refresh_from_db()
    return order


def test_uses_that_follow_their_orders_pass(code):
    discounted_order(code)
    discounted_order(code, status="held", payment_status="awaiting")
    assert problems("code-uses") == [] and problems("order-discounts") == []


def test_a_counter_that_disagrees_with_the_uses_is_reported(code):
    discounted_order(code)
    DiscountCode.objects.filter(pk=code.pk).update(uses=2)
    assert problems("code-uses") == ["Code SAVE10 counts 2 uses, but 1 orders have it (limit 2)."]


def test_a_use_whose_state_disagrees_with_its_order_is_reported(code):
    order = discounted_order(code, status="held")  # the factory's order is paid
    assert problems("code-uses") == [
        f"Order {order.number}'s use of code SAVE10 is held, but the order is paid."
    ]


def test_a_discount_without_its_codes_use_or_outside_the_dates_is_reported(code):
    stray = OrderFactory(discount_total=100)
    OrderLineFactory(order=stray, discount=100)
    assert problems("order-discounts") == [
        f"Order {stray.number} has a discount of £1.00, but its codes account for £0.00."
    ]
    order_code_discount(stray, code="SAVE10", name="Ten off", amount=100, promotion=code.promotion)
    assert problems("order-discounts") == [
        f"Order {stray.number} has a discount from code SAVE10 but no use of it."
    ]
    stray.delete()
    order = discounted_order(code)
    Promotion.objects.filter(pk=code.promotion_id).update(starts_at=timezone.now() + timedelta(days=1))
    assert problems("order-discounts") == [
        f"Order {order.number} used code SAVE10 outside its promotion's dates."
    ]
