"""Paying: card set up in the browser, PaymentIntent confirmed by the server, 3-D Secure, declines."""

import json

from django.test import Client

from checkout.models import Order, Payment
from inventory.models import Reservation, Stock
from tests.factories import UserFactory
from tests.helpers import DECLINED_CARD, GOOD_CARD, Browser, fill_cart, place

THREE_D_SECURE_CARD = "4000002500003155"


def stock(variant) -> tuple[int, int]:
    row = Stock.objects.get(variant=variant)
    return row.on_hand, row.allocated


def test_good_card_pays_and_commits_the_stock(outside, client, order, jumper):
    browser = Browser(client, outside.STRIPE_API_BASE, order)

    response = browser.pay(GOOD_CARD)

    assert response.status_code == 200
    assert response.json() == {"status": "succeeded", "return_url": f"/order/{order.public_token}/return/"}
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.paid_at is not None
    assert order.stock_committed_at is not None
    assert Reservation.objects.get().status == "committed"
    assert stock(jumper) == (2, 0)

    page = client.get(f"/order/{order.public_token}/return/", follow=True).content.decode()
    assert f"Thank you! Your payment was received and order {order.number} is confirmed." in page
    assert "Status: <strong>Paid</strong>" in page
    # The return page may be reloaded: nothing is counted twice.
    client.get(f"/order/{order.public_token}/return/")
    assert stock(jumper) == (2, 0)
    assert Payment.objects.get().status == "succeeded"


def test_declined_card_says_why_and_a_second_card_pays(outside, client, order, jumper):
    browser = Browser(client, outside.STRIPE_API_BASE, order)

    declined = browser.pay(DECLINED_CARD)

    assert declined.status_code == 402
    assert declined.json() == {
        "status": "declined",
        "error": "card_declined",
        "message": "Your card was declined. Please try another card.",
        "retryable": False,
    }
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    assert stock(jumper) == (3, 1)  # still held for the shopper's next try
    page = client.get(f"/order/{order.public_token}/pay/").content.decode()
    assert "Your card was declined. Please try another card." in page

    paid = browser.pay(GOOD_CARD)

    assert paid.json()["status"] == "succeeded"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    # The failed attempt's PaymentIntent was replaced by a fresh one, which paid.
    assert [(p.attempt, p.status) for p in Payment.objects.order_by("attempt")] == [
        (1, "canceled"),
        (2, "succeeded"),
    ]
    assert stock(jumper) == (2, 0)


def test_three_d_secure_challenge_passed(outside, client, order, jumper):
    browser = Browser(client, outside.STRIPE_API_BASE, order)

    response = browser.pay(THREE_D_SECURE_CARD)

    body = response.json()
    assert body["status"] == "requires_action" and body["client_secret"].startswith("pi_")
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    browser.authenticate(body["client_secret"], success=True)
    page = client.get(body["return_url"], follow=True).content.decode()
    assert "is confirmed" in page
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert stock(jumper) == (2, 0)


def test_three_d_secure_challenge_failed_leaves_the_order_payable(outside, client, order, jumper):
    browser = Browser(client, outside.STRIPE_API_BASE, order)
    body = browser.pay(THREE_D_SECURE_CARD).json()

    browser.authenticate(body["client_secret"], success=False)
    response = client.get(body["return_url"])

    assert response["Location"] == f"/order/{order.public_token}/pay/"
    page = client.get(response["Location"]).content.decode()
    assert "Please try" in page and "another card" in page
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING
    assert stock(jumper) == (3, 1)


def test_pay_refuses_bad_requests(outside, client, order):
    path = f"/order/{order.public_token}/pay/confirm/"
    assert client.post(path, data="not json", content_type="application/json").status_code == 400
    assert client.post(path, data="{}", content_type="application/json").json()["message"] == (
        "The request did not say which card to use."
    )
    response = client.post(
        path, data=json.dumps({"setup_intent": "seti_someone_else"}), content_type="application/json"
    )
    assert response.status_code == 409
    assert "out of date" in response.json()["message"]
    assert client.get(path).status_code == 405
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.AWAITING


def test_a_paid_order_cannot_be_paid_again(outside, client, order):
    browser = Browser(client, outside.STRIPE_API_BASE, order)
    browser.pay(GOOD_CARD)

    again = browser.post_json(f"/order/{order.public_token}/pay/setup/")

    assert again.status_code == 409
    assert again.json()["redirect"] == f"/order/{order.public_token}/"
    assert client.get(f"/order/{order.public_token}/pay/")["Location"] == f"/order/{order.public_token}/"


def test_account_orders_are_only_for_their_owner(outside, shipping, jumper):
    owner = UserFactory()
    client = Client()
    client.force_login(owner)
    version = fill_cart(client, (jumper, 1))
    place(client, version)
    order = Order.objects.get(user=owner)

    assert client.get(f"/order/{order.public_token}/").status_code == 200
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(f"/order/{order.public_token}/").status_code == 404
    assert stranger.post(f"/order/{order.public_token}/pay/setup/").status_code == 404
    anonymous = Client()
    response = anonymous.get(f"/order/{order.public_token}/")
    assert response.status_code == 302 and response["Location"].startswith("/account/login/?next=")
