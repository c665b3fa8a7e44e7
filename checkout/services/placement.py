"""Placing an order: validate and price the cart, write the order, then create its
PaymentIntent and reserve its stock at once; undo either when the other fails."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from catalog.sellable import sellable_category_ids, variant_is_sellable
from checkout.clients import arelease_database_connection, inventory
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    CartChanged,
    CartEmpty,
    CartError,
    InventoryRefused,
    InventoryUnavailable,
    OutOfStock,
    PaymentGatewayUnavailable,
    PaymentRejected,
    PricesChanged,
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
    ShippingMethod,
    TaxRate,
)
from checkout.pricing import totals_compute
from checkout.quote import PricedLine, Quote, quote_changes
from checkout.services.carts import _title
from shop.exceptions import ShopError

logger = logging.getLogger(__name__)


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
        await release_placement_reservation.using(
            run_after=timezone.now() + timedelta(seconds=settings.INVENTORY_API_TIMEOUT * 2 + 5)
        ).aenqueue(order.pk)
    if isinstance(payment_result, PaymentGatewayUnavailable):
        # The PaymentIntent may have been made though its answer was lost (or came too late).
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


@task()
async def release_placement_reservation(order_id: int) -> None:
    """Give back stock a timed-out placement may still have held."""
    await aplacement_reservation_release(order_id=order_id)


@task()
async def cancel_placement_payment_intent(order_id: int) -> None:
    """Cancel a PaymentIntent a failed placement may have made though its answer never came."""
    await aplacement_payment_intent_cancel(order_id=order_id)
