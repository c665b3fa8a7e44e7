"""The order page, where a shopper lands after paying: what happened, and where to go next."""

import pytest

from tests.factories import OrderFactory, PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_guests_paid_order_leads_back_to_shopping_and_gives_its_own_link(client):
    order = PaymentFactory().order

    response = client.get(f"/order/{order.public_token}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f"Order {order.number}" in body and "Thank you — we have your payment" in body
    link = f"http://testserver/order/{order.public_token}/"
    assert f'Your order\'s own link: <a href="{link}">{link}</a>' in body
    assert "keep it to come back to your order: it is private to you." in body
    assert '<a class="button" href="/">Continue shopping</a>' in body
    assert "Your orders" not in body


def test_a_signed_in_shoppers_order_leads_to_their_order_history(client):
    shopper = UserFactory()
    order = OrderFactory(user=shopper)
    client.force_login(shopper)

    response = client.get(f"/order/{order.public_token}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert '<a class="button" href="/">Continue shopping</a>' in body
    assert '<a class="button button-secondary" href="/account/">Your orders</a>' in body
    assert f'href="http://testserver/order/{order.public_token}/"' in body
    assert "(it opens when you are signed in)" in body


def test_staff_looking_at_a_shoppers_order_are_not_shown_it_as_their_own(client):
    order = OrderFactory(user=UserFactory())
    client.force_login(UserFactory(is_staff=True))

    body = client.get(f"/order/{order.public_token}/").content.decode()

    assert f"Order {order.number}" in body and "Your orders" not in body
