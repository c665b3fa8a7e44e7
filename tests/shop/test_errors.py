"""How a ShopError reaches people, through real views: a message and a redirect on pages (to
where the error names, else the view's target), the form again with its status, and
{error, message, retryable} with the error's status for JSON callers; Retry-After only
where waiting helps; the shopper never reads what staff read."""

import json
import socket

import pytest
from django.contrib.messages import INFO, get_messages

from checkout.exceptions import PaymentGatewayUnavailable
from tests.factories import PaymentFactory, UserFactory
from tests.helpers import fill_cart, place


def closed_port_url() -> str:
    """Return a loopback address where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.django_db
def test_a_page_goes_where_the_error_names_at_the_errors_message_level(client):
    response = client.get("/checkout/")

    assert (response.status_code, response["Location"]) == (302, "/cart/")
    shown = [(message.level, message.message) for message in get_messages(response.wsgi_request)]
    assert shown == [(INFO, "Your cart is empty.")]


@pytest.mark.django_db
def test_a_page_goes_to_the_views_target_with_the_shoppers_message(client, jumper):
    expired = client.post("/cart/update/", {"variant": jumper.pk, "quantity": 2})

    assert (expired.status_code, expired["Location"]) == (302, "/cart/")
    page = client.get("/cart/").content.decode()
    assert "Your cart has expired. Please add the items again." in page
    assert 'class="message message-error"' in page


def test_a_refused_order_shows_the_form_again_with_429_and_retry_after(outside, shipping, client, jumper):
    outside.RATE_LIMIT_PLACE_ORDER = "1/5m"
    assert place(client, fill_cart(client, (jumper, 1))).status_code == 302

    refused = place(client, fill_cart(client, (jumper, 1)))

    assert refused.status_code == 429
    assert 240 < int(refused["Retry-After"]) <= 300
    page = refused.content.decode()
    assert "Too many orders placed from your connection in a short time. Please wait 5 minutes" in page
    assert 'name="email"' in page  # the checkout form, not an error page


def test_a_json_caller_gets_the_code_the_message_and_whether_to_retry(outside, order, client):
    response = client.post(
        f"/order/{order.public_token}/pay/confirm/", data="not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "Retry-After" not in response
    assert response.json() == {
        "status": "error",
        "error": "invalid_request",
        "message": "The request was not valid JSON.",
        "retryable": False,
    }


def test_a_retryable_json_error_says_when_and_keeps_the_staff_detail_from_the_shopper(outside, order, client):
    outside.STRIPE_API_BASE = closed_port_url()
    outside.STRIPE_MAX_NETWORK_RETRIES = 0

    response = client.post(f"/order/{order.public_token}/pay/setup/")

    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert response.json() == {
        "status": "error",
        "error": "payment_gateway_unavailable",
        "message": PaymentGatewayUnavailable.user_message,
        "retryable": True,
    }
    assert "Stripe did not answer" not in response.content.decode()


def test_staff_read_the_staff_message_of_the_same_error(outside, client):
    payment = PaymentFactory()
    client.force_login(UserFactory(is_staff=True))
    outside.STRIPE_API_BASE = closed_port_url()
    outside.STRIPE_MAX_NETWORK_RETRIES = 0

    response = client.post(
        f"/dashboard/orders/{payment.order.number}/refund/",
        {"amount": "5.00", "reason": "", "request_key": "test-refund-key-1"},
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert f"The refund of £5.00 on order {payment.order.number} failed: Stripe did not answer" in page
    assert "Nothing was refunded." in page
    assert PaymentGatewayUnavailable.user_message not in page


def test_an_api_error_keeps_its_contracts_detail_beside_the_shared_body(client, settings):
    settings.INVENTORY_API_TOKEN = "secret-token"

    response = client.post(
        "/inventory/v1/reservations",
        data=json.dumps({"reference": "r", "lines": []}),
        content_type="application/json",
        headers={"Authorization": "Bearer secret-token", "Idempotency-Key": "k"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": "lines must be a list of 1 to 100 lines.",
        "message": "lines must be a list of 1 to 100 lines.",
        "retryable": False,
    }
