"""The order's page in the Django admin shows its money: lines, tax per rate and the discount."""

from decimal import Decimal

import pytest

from checkout.models import OrderTax
from tests.factories import OrderFactory, OrderLineFactory, UserFactory, order_code_discount

pytestmark = pytest.mark.django_db


def test_the_admin_order_page_shows_net_tax_per_rate_and_the_discount(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    order = OrderFactory(
        subtotal=975,
        tax_total=195,
        total=1170,
        discount_total=130,
    )
    order_code_discount(order, code="SAVE10", name="Ten off", amount=130)
    OrderLineFactory(order=order, unit_price=1300, net=975, tax=195, tax_rate=Decimal(20), discount=130)
    OrderTax.objects.create(order=order, rate=20, net=975, tax=195)

    response = client.get(f"/admin/checkout/order/{order.pk}/change/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "SAVE10" in text and "Ten off" in text and "£1.30" in text  # the discount
    assert "£9.75" in text and "£1.95" in text  # net and tax, on the line and at 20 %
