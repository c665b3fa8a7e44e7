"""Writes and business rules for carts, orders and payments.

Anything that needs a transaction is a sync function with an async twin beside it
(`a<name>`), because Django cannot enter `atomic()` from async code. Outside calls
(Stripe, the inventory API) are never made inside a transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from catalog.models import Variant
from catalog.sellable import sellable_category_ids, variant_is_sellable
from checkout.cart_limits import cart_max_lines, cart_room_check
from checkout.clients import arelease_database_connection, inventory
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    CartError,
    InventoryRefused,
    InventoryUnavailable,
    OutOfStock,
    PaymentDeclined,
    PaymentGatewayUnavailable,
    PaymentRejected,
    QuantityUnavailable,
    ReservationNotHeld,
    UnknownItems,
)
from checkout.models import (
    COUNTRY_CHOICES,
    Cart,
    CartLine,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    ShippingMethod,
    TaxRate,
)
from checkout.pricing import totals_compute
from checkout.quote import PricedLine, Quote, quote_changes
from checkout.tasks import send_order_confirmation, send_shipping_notice
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)

CART_SESSION_KEY = "cart_id"
MAX_LINE_QUANTITY = 20


# Order status ----------------------------------------------------------------------

_S = Order.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    _S.PENDING_PAYMENT: {_S.PAID, _S.CANCELED},
    _S.PAID: {_S.FULFILLED, _S.CANCELED, _S.REFUNDED, _S.PARTIALLY_REFUNDED},
    _S.PARTIALLY_REFUNDED: {_S.FULFILLED, _S.REFUNDED, _S.CANCELED},
    _S.FULFILLED: {_S.REFUNDED, _S.PARTIALLY_REFUNDED},
    _S.CANCELED: set(),
    _S.REFUNDED: set(),
}


class IllegalTransition(ShopError):
    """An order was asked to move to a status it cannot reach from where it is."""


def _order_move(
    order: Order, status: str, *, actor_id: int | None = None, note: str = "", **fields: object
) -> None:
    """Move a locked order to `status` (and set `fields`), recording it in the order's history.

    Raise IllegalTransition if the order cannot go there from where it is.
    """
    if status not in ALLOWED_TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"Order {order.number} cannot go from {order.get_status_display()} "
            f"to {Order.Status(status).label}."
        )
    before = order.get_status_display()
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", *fields, "updated_at"])
    message = f"{before} → {order.get_status_display()}" + (f": {note}" if note else "")
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, message=message[:500], actor_id=actor_id
    )


def _order_flag(order: Order, reason: str) -> None:
    """Mark a locked order for staff, keeping earlier reasons."""
    reasons = [r for r in order.flag_reason.split(" | ") if r] if order.flag_reason else []
    if reason not in reasons:
        reasons.append(reason)
    order.is_flagged = True
    order.flag_reason = " | ".join(reasons)[-300:]
    order.save(update_fields=["is_flagged", "flag_reason", "updated_at"])
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.FLAGGED, message=reason[:500])


# Carts ---------------------------------------------------------------------


def _variant_for_sale(variant_id: int) -> Variant:
    variant = (
        Variant.objects.select_related("product", "stock")
        .filter(
            pk=variant_id,
            is_active=True,
            product__is_active=True,
            product__category_id__in=sellable_category_ids(),
        )
        .first()
    )
    if variant is None:
        raise CartError("Sorry, that item is no longer sold.")
    return variant


def _title(variant: Variant) -> str:
    label = variant.label
    return f"{variant.product.title} ({label})" if variant.options else variant.product.title


def _available(variant: Variant) -> int:
    stock = getattr(variant, "stock", None)
    return stock.available if stock else 0


def cart_line_add(*, cart_id: int, variant_id: int, quantity: int) -> int:
    """Add `quantity` of a variant to the cart. Return the line's new quantity.

    Raise QuantityUnavailable when the cart would hold more than is available.
    """
    if quantity < 1 or quantity > MAX_LINE_QUANTITY:
        raise CartError(f"Choose a quantity from 1 to {MAX_LINE_QUANTITY}.")
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart_id)
        variant = _variant_for_sale(variant_id)
        line = CartLine.objects.filter(cart=cart, variant=variant).first()
        if line is None:
            cart_room_check(cart_id=cart.pk)
        in_cart = line.quantity if line else 0
        wanted = in_cart + quantity
        if wanted > MAX_LINE_QUANTITY:
            raise CartError(f"You can buy at most {MAX_LINE_QUANTITY} of one item.")
        available = _available(variant)
        if wanted > available:
            raise QuantityUnavailable(title=_title(variant), available=available, in_cart=in_cart)
        if line:
            line.quantity = wanted
            line.save(update_fields=["quantity"])
        else:
            CartLine.objects.create(cart=cart, variant=variant, quantity=wanted)
        Cart.objects.filter(pk=cart.pk).update(version=F("version") + 1, updated_at=timezone.now())
    return wanted


def cart_line_set(*, cart_id: int, variant_id: int, quantity: int) -> None:
    """Set a line's quantity; 0 removes it."""
    if quantity < 0 or quantity > MAX_LINE_QUANTITY:
        raise CartError(f"Choose a quantity from 0 to {MAX_LINE_QUANTITY}.")
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart_id)
        line = (
            CartLine.objects.filter(cart=cart, variant_id=variant_id)
            .select_related("variant__product", "variant__stock")
            .first()
        )
        if line is None:
            raise CartError("That item is not in your cart any more.")
        if quantity == 0:
            line.delete()
        else:
            if quantity > line.quantity and not variant_is_sellable(line.variant, sellable_category_ids()):
                raise CartError(f"Sorry, {_title(line.variant)} is no longer sold, so you cannot add more.")
            available = _available(line.variant)
            if quantity > line.quantity and quantity > available:
                raise QuantityUnavailable(title=_title(line.variant), available=available)
            line.quantity = quantity
            line.save(update_fields=["quantity"])
        Cart.objects.filter(pk=cart.pk).update(version=F("version") + 1, updated_at=timezone.now())


def cart_attach_to_user(*, session: SessionBase, user) -> Cart:
    """Merge the guest cart kept in `session` into the user's cart, after sign-in.

    Quantities of the same variant add up (capped at the per-line maximum). The
    guest cart is deleted; the session then points at the user's cart.
    """
    with transaction.atomic():
        user_cart, _ = Cart.objects.get_or_create(user=user)
        user_cart = Cart.objects.select_for_update().get(pk=user_cart.pk)
        guest_id = session.get(CART_SESSION_KEY)
        guest = None
        if isinstance(guest_id, int) and guest_id != user_cart.pk:
            guest = Cart.objects.select_for_update().filter(pk=guest_id, user__isnull=True).first()
        if guest is not None:
            existing = {line.variant_id: line for line in CartLine.objects.filter(cart=user_cart)}
            # The merged cart stays within what one order can hold; the guest's oldest lines win.
            room = cart_max_lines() - len(existing)
            for line in CartLine.objects.filter(cart=guest).order_by("pk"):
                mine = existing.get(line.variant_id)
                if mine:
                    mine.quantity = min(mine.quantity + line.quantity, MAX_LINE_QUANTITY)
                    mine.save(update_fields=["quantity"])
                elif room > 0:
                    room -= 1
                    CartLine.objects.create(
                        cart=user_cart, variant_id=line.variant_id, quantity=line.quantity
                    )
            guest.delete()
            Cart.objects.filter(pk=user_cart.pk).update(version=F("version") + 1, updated_at=timezone.now())
    session[CART_SESSION_KEY] = user_cart.pk
    return user_cart


acart_line_add = sync_to_async(cart_line_add)
acart_line_set = sync_to_async(cart_line_set)


async def acart_for_request(request, *, create: bool) -> Cart | None:
    """Return the request's cart: the user's when signed in, else the one the session points at."""
    user = request.user
    if user.is_authenticated:
        if create:
            cart, _ = await Cart.objects.aget_or_create(user=user)
            return cart
        return await Cart.objects.filter(user=user).afirst()
    cart_id = await request.session.aget(CART_SESSION_KEY)
    cart = None
    if isinstance(cart_id, int):
        cart = await Cart.objects.filter(pk=cart_id, user__isnull=True).afirst()
    if cart is None and create:
        cart = await Cart.objects.acreate()
        await request.session.aset(CART_SESSION_KEY, cart.pk)
    return cart


# Placing orders ---------------------------------------------------------------


class CartChanged(CartError):
    user_message = "Your cart changed (perhaps in another tab). Please check it and place your order again."


class PricesChanged(CartChanged):
    """A price changed between the checkout page and placement: the shopper must see it first."""

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(
            "Prices changed since you opened this page: "
            + " ".join(changes)
            + " Nothing was charged. Please check the new total and place your order again to confirm it."
        )


class CartEmpty(CartError):
    user_message = "Your cart is empty."


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    line1: str
    line2: str
    city: str
    postcode: str
    country: str
    phone: str


def checkout_key(*, cart_id: int, cart_version: int) -> str:
    """Return the key that makes one cart state into at most one order."""
    return f"cart-{cart_id}-v{cart_version}"


def _next_order_number() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('checkout_order_number_seq')")
        (value,) = cursor.fetchone()
    return f"NW{value}"


def _order_lines_check(lines: list[CartLine]) -> None:
    """Raise CartError naming the first line that cannot be ordered."""
    category_ids = sellable_category_ids()
    for line in lines:
        variant = line.variant
        if not variant_is_sellable(variant, category_ids):
            raise CartError(
                f"{_title(variant)} is no longer available: we no longer sell it. "
                "Please remove it from your cart."
            )
        if variant.currency != settings.SHOP_CURRENCY:
            raise CartError(f"{_title(variant)} cannot be sold in {settings.SHOP_CURRENCY}.")


def _prices_confirm(
    seen: Quote, *, lines: list[CartLine], method: ShippingMethod, rate: TaxRate | None, country: str
) -> None:
    """Raise PricesChanged when the cart's prices now differ from those the shopper saw."""
    changes = quote_changes(
        seen=seen,
        currency=settings.SHOP_CURRENCY,
        lines=[
            PricedLine(
                variant_id=line.variant_id,
                title=_title(line.variant),
                quantity=line.quantity,
                unit_price=line.variant.price,
            )
            for line in lines
        ],
        method=(method.code, method.name, method.price, method.free_over),
        country=(country, dict(COUNTRY_CHOICES).get(country, country), rate.rate if rate else None),
    )
    if changes:
        raise PricesChanged(changes)


def order_create(
    *,
    cart_id: int,
    cart_version: int,
    user_id: int | None,
    email: str,
    address: ShippingAddress,
    shipping_method_code: str,
    seen_prices: Quote,
) -> tuple[Order, bool]:
    """Create the order for this cart state in `pending_payment`, with price snapshots.

    Return (order, created). The same cart state always gives the same order, so a
    double submit finds the first one instead of making a second. Raise PricesChanged
    when the prices now differ from `seen_prices`, those the checkout page showed.
    """
    key = checkout_key(cart_id=cart_id, cart_version=cart_version)
    existing = Order.objects.filter(checkout_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            cart = Cart.objects.select_for_update().filter(pk=cart_id).first()
            if cart is None:
                raise CartEmpty()
            if cart.version != cart_version:
                raise CartChanged()
            lines = list(
                CartLine.objects.filter(cart=cart)
                .select_related("variant__product", "variant__stock")
                .order_by("added_at", "id")
            )
            if not lines:
                raise CartEmpty()
            _order_lines_check(lines)
            method = ShippingMethod.objects.filter(code=shipping_method_code, is_active=True).first()
            if method is None:
                raise CartError("Please choose one of the delivery options shown.")
            rate = TaxRate.objects.filter(country=address.country).first()
            _prices_confirm(seen_prices, lines=lines, method=method, rate=rate, country=address.country)
            subtotal = sum(line.variant.price * line.quantity for line in lines)
            totals = totals_compute(
                currency=settings.SHOP_CURRENCY,
                subtotal=subtotal,
                shipping_price=method.price,
                free_over=method.free_over,
                tax_name=rate.name if rate else "Tax",
                tax_rate=rate.rate if rate else 0,
            )
            order = Order.objects.create(
                number=_next_order_number(),
                checkout_key=key,
                user_id=user_id,
                email=email,
                full_name=address.full_name,
                line1=address.line1,
                line2=address.line2,
                city=address.city,
                postcode=address.postcode,
                country=address.country,
                phone=address.phone,
                shipping_method_code=method.code,
                shipping_method_name=method.name,
                currency=totals.currency,
                subtotal=totals.subtotal,
                shipping_total=totals.shipping,
                tax_name=totals.tax_name,
                tax_rate=totals.tax_rate,
                tax_total=totals.tax,
                total=totals.total,
            )
            OrderEvent.objects.create(
                order=order,
                kind=OrderEvent.Kind.PLACED,
                message=f"Placed for {totals.total} {totals.currency}",
            )
            OrderLine.objects.bulk_create(
                [
                    OrderLine(
                        order=order,
                        variant=line.variant,
                        sku=line.variant.sku,
                        product_title=line.variant.product.title,
                        variant_label=line.variant.label if line.variant.options else "",
                        unit_price=line.variant.price,
                        quantity=line.quantity,
                        line_total=line.variant.price * line.quantity,
                    )
                    for line in lines
                ]
            )
    except IntegrityError:
        # A concurrent submit of the same cart state won the race: use its order.
        existing = Order.objects.filter(checkout_key=key).first()
        if existing is None:
            raise
        return existing, False
    return order, True


def order_payment_started(
    *,
    order_id: int,
    cart_id: int,
    payment_intent: stripe_api.PaymentIntent,
    reservation: inventory.Reservation,
) -> Order:
    """Record the PaymentIntent and the reservation of a just-placed order, and empty the cart."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        order.reservation_id = reservation.id
        order.reservation_expires_at = reservation.expires_at
        order.save(update_fields=["reservation_id", "reservation_expires_at", "updated_at"])
        # Once per order: a resumed placement finds the row already there (one INSERT ... ON
        # CONFLICT DO NOTHING rather than a read, a savepoint and an insert).
        Payment.objects.bulk_create(
            [
                Payment(
                    order=order,
                    attempt=1,
                    payment_intent_id=payment_intent.id,
                    amount=payment_intent.amount,
                    currency=payment_intent.currency,
                    status=payment_intent.status,
                )
            ],
            ignore_conflicts=True,
        )
        # Only what was ordered leaves the cart: a line added in another tab meanwhile stays.
        ordered = Q()
        lines = OrderLine.objects.filter(order=order).values_list("variant_id", "quantity")
        for variant_id, quantity in lines:
            ordered |= Q(variant_id=variant_id, quantity=quantity)
        if ordered:
            CartLine.objects.filter(ordered, cart_id=cart_id).delete()
        Cart.objects.filter(pk=cart_id).update(version=F("version") + 1, updated_at=timezone.now())
    return order


def order_cancel_at_placement(*, order_id: int, cart_id: int, reason: str) -> None:
    """Cancel an order whose placement failed; the cart stays, under a new version."""
    with transaction.atomic():
        Order.objects.filter(pk=order_id, status=Order.Status.PENDING_PAYMENT).update(
            status=Order.Status.CANCELED, cancel_reason=reason[:200], canceled_at=timezone.now()
        )
        Cart.objects.filter(pk=cart_id).update(version=F("version") + 1, updated_at=timezone.now())


aorder_create = sync_to_async(order_create)
aorder_payment_started = sync_to_async(order_payment_started)
aorder_cancel_at_placement = sync_to_async(order_cancel_at_placement)


def _placement_reason(error: BaseException) -> str:
    if isinstance(error, OutOfStock):
        return "out of stock: " + ", ".join(f"{line.sku} ({line.available} left)" for line in error.lines)
    if isinstance(error, UnknownItems):
        return "unknown items: " + ", ".join(error.skus)
    if isinstance(error, InventoryRefused):
        return f"inventory refused the order: {error}"[:200]
    if isinstance(error, InventoryUnavailable):
        return "inventory unavailable"
    if isinstance(error, PaymentGatewayUnavailable):
        return "payment provider unavailable"
    if isinstance(error, PaymentRejected):
        return "payment provider refused the request"
    return f"unexpected error: {error.__class__.__name__}"


async def aorder_place(
    *,
    cart_id: int,
    cart_version: int,
    user_id: int | None,
    email: str,
    address: ShippingAddress,
    shipping_method_code: str,
    seen_prices: Quote,
) -> tuple[Order, bool]:
    """Place the order: create it, then create its PaymentIntent and reserve its stock at once.

    Return (order, created). When either outside call fails the other is undone,
    the order is canceled with the reason, and the first failure is raised (out
    of stock before payment errors): nothing is charged and no stock stays held.
    """
    order, created = await aorder_create(
        cart_id=cart_id,
        cart_version=cart_version,
        user_id=user_id,
        email=email,
        address=address,
        shipping_method_code=shipping_method_code,
        seen_prices=seen_prices,
    )
    if not created:
        return await aorder_placement_resume(order=order), False
    return await _aplace_outside(order=order, cart_id=cart_id), True


# An order still without a payment this long after it was made was interrupted
# (the shopper's connection dropped mid-placement): its placement may be resumed.
PLACEMENT_GRACE = timedelta(seconds=30)


async def aorder_placement_resume(*, order: Order) -> Order:
    """Finish placing an order that was interrupted between its creation and its outside calls.

    Both outside calls carry idempotency keys derived from the order, so doing
    them again finds what the first try made instead of making it twice.
    """
    if order.status != Order.Status.PENDING_PAYMENT or await Payment.objects.filter(order=order).aexists():
        return order
    if timezone.now() - order.created_at < PLACEMENT_GRACE:
        return order
    cart_id = int(order.checkout_key.split("-")[1])  # "cart-<id>-v<version>"
    return await _aplace_outside(order=order, cart_id=cart_id)


async def _aplace_outside(*, order: Order, cart_id: int) -> Order:
    """Create the order's PaymentIntent and reserve its stock at once; undo both on any failure."""
    calls = (
        stripe_api.payment_intent_create(
            amount=order.total,
            currency=order.currency,
            order_number=order.number,
            idempotency_key=f"order-{order.number}-payment-intent",
        ),
        _areserve_order_stock(order, idempotency_key=f"order-{order.number}-reservation"),
    )
    if settings.CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS:
        payment_result, reservation_result = [
            (await asyncio.gather(call, return_exceptions=True))[0] for call in calls
        ]
    else:
        payment_result, reservation_result = await asyncio.gather(*calls, return_exceptions=True)
    failures = [
        result for result in (reservation_result, payment_result) if isinstance(result, BaseException)
    ]
    if not failures:
        order = await aorder_payment_started(
            order_id=order.pk,
            cart_id=cart_id,
            payment_intent=payment_result,  # type: ignore[arg-type]
            reservation=reservation_result,  # type: ignore[arg-type]
        )
        logger.info("order placed", extra={"order": order.number})
        return order

    await _undo_placement(order, payment_result, reservation_result)
    if isinstance(reservation_result, InventoryUnavailable):
        # The reserve request may still land after we stopped waiting for it.
        from checkout.tasks import release_placement_reservation

        await release_placement_reservation.using(
            run_after=timezone.now() + timedelta(seconds=settings.INVENTORY_API_TIMEOUT * 2 + 5)
        ).aenqueue(order.pk)
    if isinstance(payment_result, PaymentGatewayUnavailable):
        # The PaymentIntent may have been made though its answer was lost (or came too late).
        from checkout.tasks import cancel_placement_payment_intent

        wait = settings.STRIPE_TIMEOUT * (settings.STRIPE_MAX_NETWORK_RETRIES + 1) + 5
        await cancel_placement_payment_intent.using(
            run_after=timezone.now() + timedelta(seconds=wait)
        ).aenqueue(order.pk)
    error = failures[0]
    await aorder_cancel_at_placement(order_id=order.pk, cart_id=cart_id, reason=_placement_reason(error))
    logger.warning("order placement failed: %s", _placement_reason(error), extra={"order": order.number})
    raise error


async def _areserve_order_stock(order: Order, *, idempotency_key: str) -> inventory.Reservation:
    """Ask the inventory to hold the order's lines (all or nothing), under `idempotency_key`."""
    lines = [
        (line.sku, line.quantity) async for line in OrderLine.objects.filter(order=order).order_by("sku")
    ]
    await arelease_database_connection()
    return await inventory.reservation_create(
        reference=f"order-{order.number}",
        lines=lines,
        ttl_seconds=settings.RESERVATION_TTL,
        idempotency_key=idempotency_key,
    )


async def aplacement_reservation_release(*, order_id: int) -> None:
    """Release whatever a failed placement's reserve request held, if it held anything.

    The request is replayed with the same idempotency key: the inventory answers
    with the reservation it made (or makes one), and that is then released. Either
    way, nothing stays held for a canceled order.
    """
    order = await Order.objects.aget(pk=order_id)
    if order.status != Order.Status.CANCELED or order.reservation_id:
        return
    try:
        reservation = await _areserve_order_stock(order, idempotency_key=f"order-{order.number}-reservation")
    except (OutOfStock, UnknownItems):
        return  # nothing could have been held
    await inventory.reservation_release(reservation_id=reservation.id)


async def aplacement_payment_intent_cancel(*, order_id: int) -> None:
    """Cancel whatever PaymentIntent a failed placement's create request made, if it made one.

    The request is replayed with the same idempotency key: Stripe answers with the
    PaymentIntent it made (or makes one), and that is then canceled. Either way, no
    PaymentIntent stays open for a canceled order.
    """
    order = await Order.objects.aget(pk=order_id)
    if order.status != Order.Status.CANCELED or await Payment.objects.filter(order=order).aexists():
        return
    await arelease_database_connection()
    intent = await stripe_api.payment_intent_create(
        amount=order.total,
        currency=order.currency,
        order_number=order.number,
        idempotency_key=f"order-{order.number}-payment-intent",
    )
    if intent.status != Payment.Status.CANCELED:
        await stripe_api.payment_intent_cancel(
            payment_intent_id=intent.id, idempotency_key=f"order-{order.number}-cancel"
        )


async def _undo_placement(order: Order, payment_result: object, reservation_result: object) -> None:
    """Cancel whichever outside effect succeeded. Failures here are logged: a PaymentIntent
    without a card cannot be charged, and a reservation left held expires by itself."""
    undo = []
    if isinstance(payment_result, stripe_api.PaymentIntent):
        undo.append(
            stripe_api.payment_intent_cancel(
                payment_intent_id=payment_result.id, idempotency_key=f"order-{order.number}-cancel"
            )
        )
    if isinstance(reservation_result, inventory.Reservation):
        undo.append(inventory.reservation_release(reservation_id=reservation_result.id))
    for result in await asyncio.gather(*undo, return_exceptions=True):
        if isinstance(result, (ShopError, ReservationNotHeld)):
            logger.error(
                "could not undo part of a failed placement: %r", result, extra={"order": order.number}
            )
        elif isinstance(result, BaseException):
            raise result


# Paying ------------------------------------------------------------------------


class PaymentFormOutOfDate(ShopError):
    user_message = (
        "This payment form is out of date (perhaps it is open in another tab). Please reload the page."
    )


class OrderNotPayable(ShopError):
    user_message = "This order cannot be paid any more."


async def apayment_setup(*, order: Order) -> str:
    """Start collecting a card for the order. Return the SetupIntent's client secret.

    The order's Customer is made once; every attempt gets a fresh SetupIntent, so
    a shopper whose card was declined can try another.
    """
    if order.status != Order.Status.PENDING_PAYMENT:
        raise OrderNotPayable()
    payment = await _acurrent_payment(order)
    await arelease_database_connection()
    if not payment.customer_id:
        customer_id = await stripe_api.customer_create(
            email=order.email, order_number=order.number, idempotency_key=f"order-{order.number}-customer"
        )
        # Two tabs may race here; the first stored customer wins.
        await Payment.objects.filter(pk=payment.pk, customer_id="").aupdate(customer_id=customer_id)
        payment = await Payment.objects.aget(pk=payment.pk)
    attempt = await Payment.objects.filter(pk=payment.pk).aupdate(updated_at=timezone.now())
    await arelease_database_connection()
    setup = await stripe_api.setup_intent_create(
        customer_id=payment.customer_id,
        idempotency_key=f"order-{order.number}-setup-{payment.updated_at.timestamp():.6f}-{attempt}",
    )
    await Payment.objects.filter(pk=payment.pk).aupdate(setup_intent_id=setup.id)
    return setup.client_secret


async def _acurrent_payment(order: Order) -> Payment:
    payment = await Payment.objects.filter(order=order).order_by("-attempt").afirst()
    if payment is None:
        raise OrderNotPayable("This order's payment is still being prepared. Please reload the page.")
    return payment


async def _anext_payment_attempt(*, order: Order, failed: Payment) -> Payment:
    """Replace a PaymentIntent whose card was refused with a fresh one for the same amount.

    Stripe would let a refused PaymentIntent be confirmed again with another card;
    a fresh one behaves the same everywhere and keeps each attempt's record apart.
    The new attempt is recorded before the old one is canceled, so the old one's
    cancellation (and its webhook) never looks like the order's own.
    """
    attempt = failed.attempt + 1
    intent = await stripe_api.payment_intent_create(
        amount=order.total,
        currency=order.currency,
        order_number=order.number,
        idempotency_key=f"order-{order.number}-payment-intent-{attempt}",
    )
    payment, _ = await Payment.objects.aget_or_create(
        order=order,
        attempt=attempt,
        defaults={
            "payment_intent_id": intent.id,
            "customer_id": failed.customer_id,
            "setup_intent_id": failed.setup_intent_id,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status,
        },
    )
    await Payment.objects.filter(pk=failed.pk).aupdate(status=Payment.Status.CANCELED)
    await arelease_database_connection()
    await _apayment_intent_cancel(order, failed)
    return payment


async def _apayment_intent_cancel(order: Order, payment: Payment) -> bool:
    """Cancel a payment attempt's PaymentIntent at Stripe; return whether it was canceled.

    A failure is logged, not raised: a PaymentIntent we never confirm again cannot be charged.
    """
    try:
        await stripe_api.payment_intent_cancel(
            payment_intent_id=payment.payment_intent_id,
            idempotency_key=f"order-{order.number}-cancel-{payment.attempt}",
        )
    except ShopError as error:
        logger.warning("could not cancel PaymentIntent: %r", error, extra={"order": order.number})
        return False
    return True


class StockHoldLost(ShopError):
    user_message = (
        "Sorry — the items in this order sold out while it waited for payment. Nothing was charged."
    )


HOLD_RENEW_MARGIN = timedelta(minutes=2)


async def aorder_hold_refresh(*, order: Order) -> None:
    """Make sure the order's stock is still held before a card is charged.

    A hold that has expired (or is about to) is renewed; if the stock has gone
    meanwhile, the order is canceled and StockHoldLost raised, before any charge.
    """
    expires = order.reservation_expires_at
    if not order.reservation_id or expires is None or expires - timezone.now() > HOLD_RENEW_MARGIN:
        return
    old_id = order.reservation_id
    try:
        renewed = await _areserve_order_stock(order, idempotency_key=f"order-{order.number}-renew-{old_id}")
    except (OutOfStock, UnknownItems) as error:
        await aorder_cancel(
            order=order, reason=f"stock hold expired and the stock is gone ({error.__class__.__name__})"
        )
        raise StockHoldLost() from error
    updated = await Order.objects.filter(pk=order.pk, reservation_id=old_id).aupdate(
        reservation_id=renewed.id, reservation_expires_at=renewed.expires_at
    )
    if updated:
        try:
            await inventory.reservation_release(reservation_id=old_id)
        except ReservationNotHeld:
            pass
        order.reservation_id, order.reservation_expires_at = renewed.id, renewed.expires_at
    elif renewed.id != (await Order.objects.aget(pk=order.pk)).reservation_id:
        # Another tab renewed first with a different hold: give this one back.
        await inventory.reservation_release(reservation_id=renewed.id)


async def aorder_cancel(*, order: Order, reason: str) -> Order:
    """Cancel an unpaid order: its PaymentIntents are canceled and its stock given back."""
    changed = await sync_to_async(_order_cancel_unpaid)(order_id=order.pk, reason=reason)
    if not changed:
        return await Order.objects.aget(pk=order.pk)
    await arelease_database_connection()
    async for payment in Payment.objects.filter(order=order).exclude(
        status__in=[Payment.Status.SUCCEEDED, Payment.Status.CANCELED]
    ):
        if await _apayment_intent_cancel(order, payment):
            await Payment.objects.filter(pk=payment.pk).aupdate(status=Payment.Status.CANCELED)
    if order.reservation_id:
        try:
            await inventory.reservation_release(reservation_id=order.reservation_id)
        except (ReservationNotHeld, InventoryUnavailable):
            pass  # released already, or it will expire by itself
    return await Order.objects.aget(pk=order.pk)


def _order_cancel_unpaid(*, order_id: int, reason: str) -> bool:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != Order.Status.PENDING_PAYMENT:
            return False
        _order_move(order, Order.Status.CANCELED, cancel_reason=reason[:200], canceled_at=timezone.now())
        return True


class PaymentInProgress(ShopError):
    user_message = (
        "A payment for this order is already being processed. Please wait a moment and reload the page."
    )


async def apayment_pay(*, order: Order, setup_intent_id: str) -> stripe_api.PaymentIntent:
    """Charge the card collected by the SetupIntent for the order's PaymentIntent.

    Return the PaymentIntent (`succeeded`, or `requires_action` for 3-D Secure);
    raise PaymentDeclined with the reason when the card is refused.

    Before anything is charged the current PaymentIntent is read back from
    Stripe: an earlier attempt whose answer was lost may have paid already, and
    must never be followed by a second charge.
    """
    if order.status != Order.Status.PENDING_PAYMENT:
        raise OrderNotPayable()
    payment = await _acurrent_payment(order)
    if not setup_intent_id or setup_intent_id != payment.setup_intent_id:
        raise PaymentFormOutOfDate()
    await aorder_hold_refresh(order=order)
    await arelease_database_connection()
    if payment.confirmed_at is not None:
        current = await stripe_api.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
        await apayment_intent_apply(intent=current)
        if current.status in ("succeeded", "processing"):
            return current
        if current.status == "requires_action":
            return current  # the browser finishes the 3-D Secure challenge it was given
        if current.status == "requires_payment_method":
            payment = await _anext_payment_attempt(order=order, failed=payment)
        elif current.status == "requires_confirmation":
            pass  # our confirmation never reached Stripe: nothing was charged, so confirm it now
        elif current.status == "canceled":
            raise OrderNotPayable()
        else:
            raise PaymentInProgress()
    setup = await stripe_api.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method:
        raise PaymentFormOutOfDate("Your card was not confirmed. Please enter it again.")
    await Payment.objects.filter(pk=payment.pk, confirmed_at__isnull=True).aupdate(
        confirmed_at=timezone.now()
    )
    await arelease_database_connection()
    try:
        intent = await stripe_api.payment_intent_pay(
            payment_intent_id=payment.payment_intent_id,
            customer_id=payment.customer_id,
            payment_method_id=setup.payment_method,
            idempotency_key=f"order-{order.number}-pay-{setup_intent_id}",
        )
    except PaymentDeclined as declined:
        await Payment.objects.filter(pk=payment.pk).aupdate(
            status=Payment.Status.REQUIRES_PAYMENT_METHOD, last_error=declined.user_message[:300]
        )
        raise
    await apayment_intent_apply(intent=intent)
    return intent


async def apayment_intent_apply(*, intent: stripe_api.PaymentIntent) -> Order | None:
    """Bring our records in line with the PaymentIntent as Stripe reports it now.

    Used by the return page and (later) the webhook: both may run, in any order,
    any number of times; the order is marked paid and its stock committed once.
    """
    if intent.status == Payment.Status.SUCCEEDED:
        return await aorder_payment_succeeded(
            payment_intent_id=intent.id, amount=intent.amount_received, currency=intent.currency
        )
    if intent.status == Payment.Status.CANCELED:
        return await aorder_payment_canceled(payment_intent_id=intent.id)
    updates: dict[str, object] = {"status": intent.status}
    if intent.decline_message:
        updates["last_error"] = stripe_api.decline_text(intent.decline_message)[:300]
    await (
        Payment.objects.filter(payment_intent_id=intent.id)
        .exclude(status=Payment.Status.SUCCEEDED)
        .aupdate(**updates)
    )
    return await Order.objects.filter(payments__payment_intent_id=intent.id).afirst()


def order_payment_succeeded(
    *, payment_intent_id: str, amount: int, currency: str
) -> tuple[Order | None, bool, bool]:
    """Mark the order paid if the succeeded PaymentIntent matches it.

    `amount` and `currency` are what Stripe reports it received; the payment
    records them, so a refund can never give back more than was taken.
    Return (order, changed, is_extra_charge): the last is True when another
    payment had already paid the order, so this one must be given back.

    Locks the order, then its payment (always in that order). A mismatch of
    amount or currency flags the order for staff instead of marking it paid.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(payments__payment_intent_id=payment_intent_id)
            .first()
        )
        if order is None:
            return None, False, False
        payment = Payment.objects.select_for_update().get(payment_intent_id=payment_intent_id)
        if payment.status != Payment.Status.SUCCEEDED:
            payment.status = Payment.Status.SUCCEEDED
            payment.last_error = ""
            payment.amount_received, payment.currency = amount, currency.upper()
            payment.save(update_fields=["status", "last_error", "amount_received", "currency", "updated_at"])
        paid_by_another = (
            Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED)
            .exclude(pk=payment.pk)
            .exists()
        )
        if order.status != Order.Status.PENDING_PAYMENT:
            return order, False, paid_by_another
        if amount != order.total or currency.upper() != order.currency:
            _order_flag(
                order,
                f"Payment {payment_intent_id} of {amount} {currency.upper()} does not match the order total "
                f"{order.total} {order.currency}; not marked paid.",
            )
            return order, False, False
        _order_move(order, Order.Status.PAID, paid_at=timezone.now())
        transaction.on_commit(lambda: send_order_confirmation.enqueue(order.pk))
        return order, True, False


async def aorder_payment_succeeded(*, payment_intent_id: str, amount: int, currency: str) -> Order | None:
    """Mark the order paid (once) and commit its reserved stock (once).

    Money is never kept for an order we cannot honour: a payment that arrives for
    a canceled order, a second payment for an order already paid, or a payment
    that arrives after the order's stock was sold to someone else is refunded in
    full and the order flagged for staff.
    """
    order, _changed, is_extra_charge = await sync_to_async(order_payment_succeeded)(
        payment_intent_id=payment_intent_id, amount=amount, currency=currency
    )
    if order is None:
        return None
    if is_extra_charge:
        await _arefund_unwanted_payment(
            order, payment_intent_id, "A second payment succeeded for an order already paid"
        )
        return await Order.objects.aget(pk=order.pk)
    if order.status == Order.Status.CANCELED:
        await _arefund_unwanted_payment(order, payment_intent_id, "Payment succeeded for a canceled order")
        return await Order.objects.aget(pk=order.pk)
    return await aorder_stock_commit(order_id=order.pk)


STOCK_COMMIT_ATTEMPTS = 12


async def aorder_stock_commit(*, order_id: int, attempt: int = 1) -> Order:
    """Turn a paid order's held stock into sold stock, once.

    If the inventory API is unreachable the commit is retried from the persistent
    task queue with growing delays; if the stock is gone the payment is refunded.
    """
    order = await Order.objects.aget(pk=order_id)
    committable = (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.PARTIALLY_REFUNDED)
    if order.status not in committable or order.stock_committed_at or not order.reservation_id:
        return order
    await arelease_database_connection()
    try:
        await inventory.reservation_commit(reservation_id=order.reservation_id)
    except (OutOfStock, ReservationNotHeld) as error:
        logger.error("paid order has no stock: %s", error, extra={"order": order.number})
        payment = await Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).afirst()
        if payment is not None:
            await _arefund_unwanted_payment(order, payment.payment_intent_id, "Paid after its stock was gone")
    except InventoryUnavailable:
        if attempt >= STOCK_COMMIT_ATTEMPTS:
            await sync_to_async(_flag_by_id)(
                order_id=order.pk, reason="Paid, but its stock could not be committed: check the inventory."
            )
        else:
            from checkout.tasks import commit_order_stock

            delay = timedelta(seconds=min(30 * 2 ** (attempt - 1), 3600))
            await commit_order_stock.using(run_after=timezone.now() + delay).aenqueue(order.pk, attempt + 1)
            logger.warning("stock commit retry %s queued", attempt + 1, extra={"order": order.number})
    else:
        await Order.objects.filter(pk=order.pk, stock_committed_at__isnull=True).aupdate(
            stock_committed_at=timezone.now()
        )
    return await Order.objects.aget(pk=order.pk)


async def _arefund_unwanted_payment(order: Order, payment_intent_id: str, why: str) -> None:
    payment = await Payment.objects.aget(payment_intent_id=payment_intent_id)
    already = await _arefunded_amount(payment)
    remaining = payment.amount_received - already
    flag = f"{why}: refunded in full automatically."
    if remaining > 0:
        try:
            await arefund_create(
                order=order,
                payment=payment,
                amount=remaining,
                reason=why,
                idempotency_key=f"order-{order.number}-auto-refund-{payment_intent_id}",
            )
        except ShopError as error:
            logger.error("automatic refund failed: %r", error, extra={"order": order.number})
            flag = f"{why}: the automatic refund FAILED, refund it by hand."
    await sync_to_async(_flag_by_id)(order_id=order.pk, reason=flag)


def _flag_by_id(*, order_id: int, reason: str) -> None:
    with transaction.atomic():
        _order_flag(Order.objects.select_for_update().get(pk=order_id), reason)


# Refunds, cancellations, disputes --------------------------------------------------------


def _refunded(**filters: object) -> int:
    """Return the minor units refunded or being refunded on the payment or order in `filters`."""
    live = Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED], **filters)
    return live.aggregate(total=Sum("amount"))["total"] or 0


async def _arefunded_amount(payment: Payment) -> int:
    return await sync_to_async(_refunded)(payment=payment)


async def arefund_create(
    *,
    order: Order,
    payment: Payment,
    amount: int,
    reason: str,
    idempotency_key: str,
    created_by_id: int | None = None,
) -> Refund:
    """Refund `amount` of a succeeded payment through Stripe and record it.

    The refund is first claimed in our database under a lock on the order, so a
    double submit (same key) gives one refund and two staff together can never
    refund more than was paid. Refuses amounts of zero or less, or more than is left.
    """
    refund = await sync_to_async(refund_claim)(
        order_id=order.pk,
        payment_id=payment.pk,
        amount=amount,
        reason=reason,
        request_key=idempotency_key,
        actor_id=created_by_id,
    )
    if refund.stripe_refund_id:
        return refund  # this request was already carried out
    await arelease_database_connection()
    try:
        made = await stripe_api.refund_create(
            payment_intent_id=payment.payment_intent_id, amount=amount, idempotency_key=idempotency_key
        )
    except ShopError:
        await sync_to_async(refund_abandon)(refund_id=refund.pk)
        raise
    return await sync_to_async(refund_finish)(
        refund_id=refund.pk, stripe_refund_id=made.id, status=made.status
    )


def refund_claim(
    *, order_id: int, payment_id: int, amount: int, reason: str, request_key: str, actor_id: int | None
) -> Refund:
    """Reserve a refund of `amount` on a payment before asking Stripe for it. Return the claim
    (or the refund already made under `request_key`)."""
    from shop.exceptions import InvalidInput
    from shop.money import format_money

    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        existing = Refund.objects.filter(request_key=request_key).first()
        if existing is not None:
            return existing
        payment = Payment.objects.select_for_update().get(pk=payment_id, order=order)
        if payment.status != Payment.Status.SUCCEEDED:
            raise InvalidInput("Only a completed payment can be refunded.")
        remaining = payment.amount_received - _refunded(payment=payment)
        if amount <= 0:
            raise InvalidInput("A refund must be more than zero.")
        if amount > remaining:
            raise InvalidInput(f"At most {format_money(remaining, payment.currency)} can still be refunded.")
        return Refund.objects.create(
            order=order,
            payment=payment,
            amount=amount,
            currency=payment.currency,
            status=Refund.Status.PENDING,
            reason=reason[:200],
            request_key=request_key,
            created_by_id=actor_id,
        )


def refund_abandon(*, refund_id: int) -> None:
    """Drop a claim whose refund Stripe did not make."""
    Refund.objects.filter(pk=refund_id, stripe_refund_id__isnull=True).delete()


def refund_finish(*, refund_id: int, stripe_refund_id: str, status: str) -> Refund:
    """Record Stripe's id and status on a claimed refund and bring the order's status up to date."""
    from shop.money import format_money

    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        # The webhook may have recorded this refund already, while we waited for Stripe's answer.
        Refund.objects.filter(stripe_refund_id=stripe_refund_id).exclude(pk=refund.pk).delete()
        refund.stripe_refund_id = stripe_refund_id
        refund.status = status if status in Refund.Status.values else Refund.Status.PENDING
        refund.save(update_fields=["stripe_refund_id", "status"])
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.REFUND,
            message=f"Refunded {format_money(refund.amount, refund.currency)}: {refund.reason}"[:500],
            actor_id=refund.created_by_id,
        )
        _order_refund_status(order)
        return refund


def _order_refund_status(order: Order) -> None:
    """Move a locked order to refunded / partially refunded by the money we keep (received − refunded)."""
    received = (
        Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).aggregate(
            total=Sum("amount_received")
        )["total"]
        or 0
    )
    kept = received - _refunded(order=order)
    if order.status in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.PARTIALLY_REFUNDED):
        if kept <= 0:
            target = Order.Status.REFUNDED
        elif kept < order.total:
            target = Order.Status.PARTIALLY_REFUNDED
        else:
            target = order.status
        if target != order.status:
            _order_move(order, target)


def refund_record(
    *,
    payment_intent_id: str,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    status: str,
    reason: str = "",
    created_by_id: int | None = None,
) -> Refund | None:
    """Record a refund Stripe reports (once, by its id) and bring the order's status up to date.

    Pass the refund as read back from Stripe, never as an event's body claims it.
    The amount recorded is capped at what is left of what Stripe received for the
    payment; a refund in another currency or beyond the payment is not recorded
    as such, and the order is flagged for staff with what Stripe reported.
    Return None when the payment is not ours or nothing could be recorded.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(payments__payment_intent_id=payment_intent_id)
            .first()
        )
        if order is None:
            return None
        payment = Payment.objects.select_for_update().get(payment_intent_id=payment_intent_id)
        known_status = status if status in Refund.Status.values else Refund.Status.PENDING
        refund = Refund.objects.filter(stripe_refund_id=stripe_refund_id).first()
        if refund is None:
            refund = _refund_new(
                order,
                payment,
                stripe_refund_id=stripe_refund_id,
                amount=amount,
                currency=currency,
                status=known_status,
                reason=reason,
                created_by_id=created_by_id,
            )
            if refund is None:
                return None
        elif refund.status != known_status:
            refund.status = known_status
            refund.save(update_fields=["status"])
        _order_refund_status(order)
        return refund


def _refund_new(
    order: Order,
    payment: Payment,
    *,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    status: str,
    reason: str,
    created_by_id: int | None,
) -> Refund | None:
    """Record a refund Stripe reports on a locked order's payment, capped at what is left of it.

    Return None (and flag the order) when nothing can be recorded.
    """
    from shop.money import format_money

    claimed = f"{amount} {currency.upper()}"
    if currency.upper() != payment.currency:
        _order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed} on a payment in "
            f"{payment.currency}: not recorded, check it in Stripe.",
        )
        return None
    recorded_amount = min(amount, payment.amount_received - _refunded_by_stripe(payment))
    if recorded_amount <= 0:
        _order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed}, but nothing is left of the "
            f"payment to refund: not recorded, check it in Stripe.",
        )
        return None
    refund = Refund.objects.create(
        stripe_refund_id=stripe_refund_id,
        order=order,
        payment=payment,
        amount=recorded_amount,
        currency=payment.currency,
        status=status,
        reason=reason[:200],
        created_by_id=created_by_id,
    )
    recorded = format_money(recorded_amount, payment.currency)
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.REFUND, message=f"Refund {stripe_refund_id} of {recorded} recorded"
    )
    if recorded_amount < amount:
        _order_flag(
            order,
            f"Stripe reports refund {stripe_refund_id} of {claimed}, more than is left of the "
            f"payment: recorded {recorded}, check it in Stripe.",
        )
    return refund


def _refunded_by_stripe(payment: Payment) -> int:
    """Return what Stripe has refunded or is refunding on a payment, by the refunds we recorded from it.

    A claim still waiting for Stripe's answer is left out: its refund is the one
    being recorded, or it will be abandoned.
    """
    live = Refund.objects.filter(
        payment=payment,
        stripe_refund_id__isnull=False,
        status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED],
    )
    return live.aggregate(total=Sum("amount"))["total"] or 0


arefund_record = sync_to_async(refund_record)


def order_payment_canceled(*, payment_intent_id: str) -> tuple[Order | None, bool]:
    """Cancel the order whose current PaymentIntent was canceled. Return (order, changed).

    Earlier attempts that we replaced are canceled by us on purpose and change nothing.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(payments__payment_intent_id=payment_intent_id)
            .first()
        )
        if order is None:
            return None, False
        payment = Payment.objects.select_for_update().get(payment_intent_id=payment_intent_id)
        if payment.status != Payment.Status.CANCELED:
            payment.status = Payment.Status.CANCELED
            payment.save(update_fields=["status", "updated_at"])
        current = Payment.objects.filter(order=order).order_by("-attempt").first()
        if order.status != Order.Status.PENDING_PAYMENT or current is None or current.pk != payment.pk:
            return order, False
        _order_move(
            order, Order.Status.CANCELED, cancel_reason="payment canceled", canceled_at=timezone.now()
        )
        return order, True


async def aorder_payment_canceled(*, payment_intent_id: str) -> Order | None:
    """Cancel the order and give its stock back, once."""
    order, changed = await sync_to_async(order_payment_canceled)(payment_intent_id=payment_intent_id)
    if changed and order is not None and order.reservation_id:
        await arelease_database_connection()
        try:
            await inventory.reservation_release(reservation_id=order.reservation_id)
        except ReservationNotHeld:
            pass  # already released or expired: nothing is held
    return order


def order_flag_for_payment(*, payment_intent_id: str, reason: str) -> Order | None:
    """Flag the order that a payment belongs to (e.g. a dispute). Return it, or None if not ours."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(payments__payment_intent_id=payment_intent_id)
            .first()
        )
        if order is not None:
            _order_flag(order, reason)
        return order


aorder_flag_for_payment = sync_to_async(order_flag_for_payment)


async def aunrecorded_payment_resolve(*, order_number: str, intent: stripe_api.PaymentIntent) -> Order | None:
    """Adopt a succeeded PaymentIntent we made for an order but never recorded (a crash in between).

    It is recorded as the order's next attempt and applied: it pays the order if
    the order is still unpaid, or is refunded as an extra charge.
    """
    order = await Order.objects.filter(number=order_number).afirst()
    if order is None:
        return None
    last = await Payment.objects.filter(order=order).order_by("-attempt").afirst()
    await Payment.objects.aget_or_create(
        payment_intent_id=intent.id,
        defaults={
            "order": order,
            "attempt": (last.attempt + 1) if last else 1,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": Payment.Status.REQUIRES_CONFIRMATION,
        },
    )
    return await apayment_intent_apply(intent=intent)


# Staff actions ----------------------------------------------------------------------------


def order_fulfil(*, order_id: int, carrier: str, tracking_number: str, actor_id: int) -> Order:
    """Mark a paid order shipped, with its carrier and tracking number, and queue the customer's e-mail."""
    from shop.exceptions import InvalidInput

    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Give the carrier and the tracking number.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
            raise IllegalTransition(
                f"Only a paid order can be shipped; this one is {order.get_status_display()}."
            )
        if order.fulfilled_at is not None:  # shipped, then partly refunded
            raise IllegalTransition(f"Order {order.number} was already shipped with {order.carrier}.")
        _order_move(
            order,
            Order.Status.FULFILLED,
            actor_id=actor_id,
            note=f"shipped with {carrier}, tracking {tracking_number}",
            fulfilled_at=timezone.now(),
            carrier=carrier[:60],
            tracking_number=tracking_number[:100],
        )
        transaction.on_commit(lambda: send_shipping_notice.enqueue(order.pk))
    return order


aorder_fulfil = sync_to_async(order_fulfil)


def _refundable_payments(order_id: int) -> list[tuple[Payment, int]]:
    payments = []
    for payment in Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).order_by(
        "attempt"
    ):
        refunded = _refunded(payment=payment)
        if payment.amount_received > refunded:
            payments.append((payment, payment.amount_received - refunded))
    return payments


async def astaff_refund(*, order: Order, amount: int, reason: str, request_key: str, actor_id: int) -> Refund:
    """Refund part or all of what Stripe took for an order, as a member of staff.

    Whatever the order's status: a payment that did not match its order (left
    unpaid and flagged) or one kept by a canceled order is given back the same way.
    """
    from shop.exceptions import InvalidInput

    payments = await sync_to_async(_refundable_payments)(order.pk)
    if not payments:
        if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.CANCELED):
            raise InvalidInput(f"A {order.get_status_display().lower()} order cannot be refunded.")
        raise InvalidInput("Nothing is left to refund on this order.")
    payment, _remaining = payments[0]
    return await arefund_create(
        order=order,
        payment=payment,
        amount=amount,
        reason=reason.strip() or "refunded by staff",
        idempotency_key=f"order-{order.number}-refund-{request_key}",
        created_by_id=actor_id,
    )


async def astaff_cancel(*, order: Order, reason: str, actor_id: int) -> Order:
    """Cancel an order as a member of staff.

    Unpaid: its PaymentIntents are canceled and its stock released. Paid but not
    shipped: it is canceled, everything paid is refunded and its stock goes back
    on hand. A shipped, refunded or canceled order cannot be canceled.
    """
    reason = reason.strip() or "canceled by staff"
    if order.status == Order.Status.PENDING_PAYMENT:
        canceled = await aorder_cancel(order=order, reason=f"canceled by staff: {reason}")
        await OrderEvent.objects.acreate(
            order=order, kind=OrderEvent.Kind.NOTE, message=reason, actor_id=actor_id
        )
        return canceled
    if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
        raise IllegalTransition(f"A {order.get_status_display().lower()} order cannot be canceled.")
    await sync_to_async(_order_cancel_paid)(order_id=order.pk, reason=reason, actor_id=actor_id)
    for payment, remaining in await sync_to_async(_refundable_payments)(order.pk):
        try:
            await arefund_create(
                order=order,
                payment=payment,
                amount=remaining,
                reason=f"order canceled: {reason}",
                idempotency_key=f"order-{order.number}-cancel-refund-{payment.pk}",
                created_by_id=actor_id,
            )
        except ShopError as error:
            await sync_to_async(_flag_by_id)(
                order_id=order.pk,
                reason=f"Canceled, but the refund failed ({error.staff_message}): refund it by hand.",
            )
            raise
    if order.reservation_id:
        await arelease_database_connection()
        try:
            if order.stock_committed_at:
                await inventory.reservation_return(reservation_id=order.reservation_id)
            else:
                await inventory.reservation_release(reservation_id=order.reservation_id)
        except ReservationNotHeld:
            pass
    return await Order.objects.aget(pk=order.pk)


def _order_cancel_paid(*, order_id: int, reason: str, actor_id: int) -> None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
            raise IllegalTransition(f"A {order.get_status_display().lower()} order cannot be canceled.")
        if order.fulfilled_at is not None:  # shipped, then partly refunded
            raise IllegalTransition("A shipped order cannot be canceled; refund it instead.")
        _order_move(
            order,
            Order.Status.CANCELED,
            actor_id=actor_id,
            note=reason,
            cancel_reason=f"canceled by staff: {reason}"[:200],
            canceled_at=timezone.now(),
        )
