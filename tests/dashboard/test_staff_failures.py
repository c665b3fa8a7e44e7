"""A staff action that fails says what failed, in staff terms, and what it left unchanged:
never the shopper's "Nothing was charged". Stripe is localstripe, which knows none of the
payments made here by factory."""

import pytest
from django.contrib import messages
from django.test import Client

from checkout.models import Order, OrderEvent, Payment, Refund
from tests.factories import OrderFactory, PaymentFactory, UserFactory


@pytest.fixture
def staff(outside) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def state(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.is_flagged,
        list(Payment.objects.filter(order=order).values_list("status", "amount")),
        Refund.objects.filter(order=order).count(),
        OrderEvent.objects.filter(order=order).count(),
    )


def test_a_refund_stripe_refuses_says_stripe_refused_the_refund(staff):
    payment = PaymentFactory(payment_intent_id="pi_unknown_to_stripe")
    order = payment.order
    before = state(order)

    response = staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {"amount": "12.00", "reason": "damaged", "request_key": "key-1"},
        follow=True,
    )

    assert response.status_code == 200
    [message] = shown(response)
    assert message.startswith(
        f"The refund of £12.00 on order {order.number} failed: Stripe refused the refund: "
    )
    assert "pi_unknown_to_stripe" in message
    assert message.endswith(". Nothing was refunded.")
    assert "charged" not in message and "try again" not in message.lower()
    assert state(order) == before


def test_canceling_a_paid_order_whose_refund_stripe_refuses_says_it_is_canceled_and_flagged(staff):
    order = PaymentFactory(payment_intent_id="pi_unknown_to_stripe").order

    response = staff.post(
        f"/dashboard/orders/{order.number}/cancel/", {"reason": "customer asked"}, follow=True
    )

    [message] = shown(response)
    assert message.startswith(
        f"Order {order.number} was canceled, but its refund failed: Stripe refused the refund: "
    )
    assert message.endswith("The order is flagged: refund it by hand in Stripe.")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and order.is_flagged
    assert Refund.objects.filter(order=order, status="succeeded").count() == 0


def test_canceling_from_the_admin_says_the_same(staff):
    order = PaymentFactory(payment_intent_id="pi_unknown_to_stripe").order

    response = staff.post(
        "/admin/checkout/order/",
        {"action": "cancel_orders", "_selected_action": [order.pk]},
        follow=True,
    )

    texts = [(message.level, str(message)) for message in response.context["messages"]]
    [(level, text)] = texts
    assert level == messages.ERROR
    assert text.startswith(
        f"Order {order.number} was canceled, but its refund failed: Stripe refused the refund: "
    )
    assert text.endswith("The order is flagged: refund it by hand in Stripe.")


def test_resolving_an_order_without_a_flag_says_so(staff):
    order = OrderFactory()
    response = staff.post(f"/dashboard/orders/{order.number}/resolve-flag/", follow=True)
    assert shown(response) == [f"Order {order.number} has no flag to resolve."]
    assert OrderEvent.objects.filter(order=order).count() == 0


def test_a_refused_stock_change_says_what_failed(staff):
    from tests.factories import StockFactory

    stock = StockFactory(on_hand=3)
    response = staff.post(
        f"/dashboard/stock/{stock.variant_id}/adjust/", {"on_hand": "-1", "reason": "count"}, follow=True
    )
    assert shown(response) == ["On hand cannot be negative."]
    stock.refresh_from_db()
    assert stock.on_hand == 3
