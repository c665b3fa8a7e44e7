"""The row locks the checkout takes, one function per lock, each inside the caller's transaction.

Rows of different kinds are always locked in the same order: carts; then an
order; then its payments; then its refunds. Two transactions that need the same
rows then wait for each other instead of deadlocking. Each function runs one
SELECT ... FOR UPDATE and must be called inside `transaction.atomic()`.
"""

from django.db.models import Q

from checkout.models import Cart, Order, Payment, Refund


def cart_lock(*, cart_id: int) -> Cart:
    """Return the cart, locked. Raise Cart.DoesNotExist when there is none."""
    return Cart.objects.select_for_update().get(pk=cart_id)


def carts_lock_for_merge(*, user_cart_id: int, guest_cart_id: object) -> tuple[Cart, Cart | None]:
    """Return (the user's cart, the guest cart or None), both locked in one query, by id.

    The guest cart counts only when it is another cart and belongs to nobody.
    """
    wanted = Q(pk=user_cart_id)
    is_guest = isinstance(guest_cart_id, int) and guest_cart_id != user_cart_id
    if is_guest:
        wanted |= Q(pk=guest_cart_id, user__isnull=True)
    carts = {cart.pk: cart for cart in Cart.objects.select_for_update().filter(wanted).order_by("pk")}
    return carts[user_cart_id], carts.get(guest_cart_id) if is_guest else None  # type: ignore[call-overload]


def order_lock(*, order_id: int) -> Order:
    """Return the order, locked. Raise Order.DoesNotExist when there is none."""
    return Order.objects.select_for_update().get(pk=order_id)


def order_lock_by_payment(*, payment_intent_id: str) -> Order | None:
    """Return the order a PaymentIntent belongs to, locked (the order row only), or None."""
    return (
        Order.objects.select_for_update(of=("self",))
        .filter(payments__payment_intent_id=payment_intent_id)
        .first()
    )


def order_and_payment_lock(*, payment_intent_id: str) -> tuple[Order, Payment] | tuple[None, None]:
    """Return (order, payment) for a PaymentIntent, the order locked first; (None, None) if not ours."""
    order = order_lock_by_payment(payment_intent_id=payment_intent_id)
    if order is None:
        return None, None
    return order, Payment.objects.select_for_update().get(payment_intent_id=payment_intent_id)


def payment_lock(*, payment_id: int, order: Order) -> Payment:
    """Return one payment of an order already locked, locked in its turn."""
    return Payment.objects.select_for_update().get(pk=payment_id, order=order)


def order_and_refund_lock(*, refund_id: int) -> tuple[Order, Refund]:
    """Return (order, refund) for a refund, the order locked first."""
    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    order = order_lock(order_id=order_id)
    return order, Refund.objects.select_for_update().get(pk=refund_id)
