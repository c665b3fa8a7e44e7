"""The idempotency keys the checkout sends to Stripe and the inventory API, one function per kind.

A key names one request that may be sent again (a retry, a resumed placement, a
double submit): the same request must always get the same key, and two different
requests never share one. Changing a key's text makes requests already in flight
look new to Stripe, so the texts stay as they are.
"""

from datetime import datetime


def checkout_key(*, cart_id: int, cart_version: int) -> str:
    """Return the key that makes one cart state into at most one order."""
    return f"cart-{cart_id}-v{cart_version}"


def checkout_key_cart_id(key: str) -> int:
    """Return the id of the cart whose state `key` (from checkout_key) names."""
    return int(key.split("-")[1])


def reservation_reference(*, order_number: str) -> str:
    """Return the reference the inventory keeps an order's reservation under."""
    return f"order-{order_number}"


def reservation_key(*, order_number: str) -> str:
    """Return the key of the reservation made when the order is placed."""
    return f"order-{order_number}-reservation"


def reservation_renew_key(*, order_number: str, reservation_id: str) -> str:
    """Return the key of the reservation that replaces the expiring hold `reservation_id`."""
    return f"order-{order_number}-renew-{reservation_id}"


def payment_intent_key(*, order_number: str, attempt: int = 1) -> str:
    """Return the key of the order's PaymentIntent for payment `attempt` (1 at placement)."""
    if attempt == 1:
        return f"order-{order_number}-payment-intent"
    return f"order-{order_number}-payment-intent-{attempt}"


def placement_cancel_key(*, order_number: str) -> str:
    """Return the key that cancels the PaymentIntent of a placement that failed."""
    return f"order-{order_number}-cancel"


def payment_cancel_key(*, order_number: str, attempt: int) -> str:
    """Return the key that cancels the PaymentIntent of payment `attempt`."""
    return f"order-{order_number}-cancel-{attempt}"


def customer_key(*, order_number: str) -> str:
    """Return the key of the order's Stripe Customer (one per order)."""
    return f"order-{order_number}-customer"


def setup_intent_key(*, order_number: str, payment_updated_at: datetime, updated: int) -> str:
    """Return the key of a fresh SetupIntent: one per touch of the payment (`payment_updated_at`)."""
    return f"order-{order_number}-setup-{payment_updated_at.timestamp():.6f}-{updated}"


def payment_pay_key(*, order_number: str, setup_intent_id: str) -> str:
    """Return the key that charges the card a SetupIntent collected (once per SetupIntent)."""
    return f"order-{order_number}-pay-{setup_intent_id}"


def staff_refund_key(*, order_number: str, request_key: str) -> str:
    """Return the key of a refund staff asked for with the form's `request_key`."""
    return f"order-{order_number}-refund-{request_key}"


def cancel_refund_key(*, order_number: str, payment_id: int) -> str:
    """Return the key of the refund of one payment when staff cancel a paid order."""
    return f"order-{order_number}-cancel-refund-{payment_id}"


def unwanted_payment_refund_key(*, order_number: str, payment_intent_id: str) -> str:
    """Return the key of the automatic refund of a payment the order cannot keep."""
    return f"order-{order_number}-auto-refund-{payment_intent_id}"
