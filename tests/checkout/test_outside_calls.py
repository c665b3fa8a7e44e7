"""Calls to Stripe and the inventory API: each gives back the caller's database connection before
it waits on the network, and each request kind is sent under its own stable idempotency key."""

import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from checkout import keys
from checkout.clients import inventory as inventory_api
from checkout.clients import stripe as stripe_api
from checkout.clients import stripe_reads
from checkout.exceptions import PaymentRejected, ReservationNotHeld
from checkout.models import Order


def connection_open() -> bool:
    return connection.connection is not None


@pytest.mark.parametrize(
    ("call", "arguments", "refused"),
    [
        (inventory_api.reservation_release, {"reservation_id": str(uuid.UUID(int=7))}, ReservationNotHeld),
        (stripe_api.payment_intent_retrieve, {"payment_intent_id": "pi_missing"}, PaymentRejected),
        (stripe_reads.charge_retrieve, {"charge_id": "ch_missing"}, None),
    ],
    ids=["inventory", "stripe", "stripe-reads"],
)
def test_client_call_gives_back_the_database_connection_first(outside, call, arguments, refused):
    list(Order.objects.all())
    assert connection_open()

    if refused is None:
        assert async_to_sync(call)(**arguments) is None
    else:
        with pytest.raises(refused):
            async_to_sync(call)(**arguments)

    assert not connection_open()
    assert Order.objects.count() == 0  # the next query simply opens one again


def test_idempotency_keys_keep_their_texts():
    # Stripe and the inventory know requests already sent by these texts: a new text is a new request.
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert [
        keys.checkout_key(cart_id=12, cart_version=3),
        keys.reservation_reference(order_number="NW7"),
        keys.reservation_key(order_number="NW7"),
        keys.reservation_renew_key(order_number="NW7", reservation_id="r-1"),
        keys.payment_intent_key(order_number="NW7"),
        keys.payment_intent_key(order_number="NW7", attempt=2),
        keys.placement_cancel_key(order_number="NW7"),
        keys.payment_cancel_key(order_number="NW7", attempt=2),
        keys.customer_key(order_number="NW7"),
        keys.setup_intent_key(order_number="NW7", payment_updated_at=when, updated=1),
        keys.payment_pay_key(order_number="NW7", setup_intent_id="seti_1"),
        keys.staff_refund_key(order_number="NW7", request_key="abc"),
        keys.cancel_refund_key(order_number="NW7", payment_id=5),
        keys.unwanted_payment_refund_key(order_number="NW7", payment_intent_id="pi_1"),
    ] == [
        "cart-12-v3",
        "order-NW7",
        "order-NW7-reservation",
        "order-NW7-renew-r-1",
        "order-NW7-payment-intent",
        "order-NW7-payment-intent-2",
        "order-NW7-cancel",
        "order-NW7-cancel-2",
        "order-NW7-customer",
        "order-NW7-setup-1767323045.678901-1",
        "order-NW7-pay-seti_1",
        "order-NW7-refund-abc",
        "order-NW7-cancel-refund-5",
        "order-NW7-auto-refund-pi_1",
    ]
    assert keys.checkout_key_cart_id(keys.checkout_key(cart_id=12, cart_version=3)) == 12
