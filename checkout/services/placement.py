"""Placing an order: validate and price the cart (placement_prepare, reads only), write the
order in one short transaction, then create its PaymentIntent and reserve its stock at once;
undo either when the other fails (placement_undo)."""

import asyncio
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from checkout import keys
from checkout.clients import inventory
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    CartChanged,
    CartEmpty,
    InventoryUnavailable,
    PaymentGatewayUnavailable,
)
from checkout.locks import cart_lock, order_lock
from checkout.models import (
    Cart,
    CartLine,
    Order,
    OrderDiscount,
    OrderEvent,
    OrderLine,
    OrderTax,
    Payment,
)
from checkout.quote import Quote
from checkout.services.carts import cart_code_remove, cart_version_bump
from checkout.services.placement_prepare import ADDRESS_FIELDS, OrderDraft, ShippingAddress, order_prepare
from checkout.services.placement_undo import (
    aorder_cancel_at_placement,
    aorder_payment_intent_create,
    aorder_stock_reserve,
    aplacement_payment_intent_cancel,
    aplacement_reservation_release,
    aplacement_undo,
    placement_reason,
)
from promotions.services import code_use_hold, customer_key

logger = logging.getLogger(__name__)


def _next_order_number() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('checkout_order_number_seq')")
        (value,) = cursor.fetchone()
    return f"NW{value}"


def order_write(*, draft: OrderDraft, user_id: int | None, email: str, address: ShippingAddress) -> Order:
    """Write the drafted order in `pending_payment`, with its lines, in one short transaction.

    Raise CartEmpty or CartChanged when the cart left the drafted state meanwhile;
    IntegrityError when an order for the same cart state was written first.
    """
    totals = draft.totals
    with transaction.atomic():
        try:
            cart = cart_lock(cart_id=draft.cart_id)
        except Cart.DoesNotExist:
            raise CartEmpty() from None
        if cart.version != draft.cart_version:
            raise CartChanged()
        order = Order.objects.create(
            number=_next_order_number(),
            checkout_key=draft.checkout_key,
            user_id=user_id,
            email=email,
            **{field: getattr(address, field) for field in ADDRESS_FIELDS},
            shipping_method_code=draft.shipping_method_code,
            shipping_method_name=draft.shipping_method_name,
            currency=totals.currency,
            prices_include_tax=totals.prices_include_tax,
            subtotal=totals.subtotal_net,
            shipping_total=totals.shipping_net,
            shipping_tax=totals.shipping_tax,
            tax_name=totals.tax_name,
            tax_total=totals.tax,
            total=totals.total,
            discount_total=totals.discount_total,
        )
        # In the order's transaction: an order that is not written holds no use. In the codes' id
        # order, so that two orders holding the same codes never wait on each other in a circle.
        for found in sorted(draft.discounts.applied, key=lambda found: found.code_id):
            code_use_hold(discount=found, order_id=order.pk, customer=draft.customer)
        OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.PLACED, message=f"Placed for {totals.total} {totals.currency}"
        )
        _lines_write(order, draft)
    return order


def _lines_write(order: Order, draft: OrderDraft) -> None:
    """Write the order's lines and its tax per rate, as drafted."""
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant_id=line.variant_id,
                sku=line.sku,
                product_title=line.product_title,
                variant_label=line.variant_label,
                unit_price=line.unit_price,
                list_price=line.list_price or line.unit_price,
                sale_id=line.sale_id,
                quantity=line.quantity,
                line_total=line.line_total,
                net=line.net,
                tax=line.tax,
                tax_rate=line.tax_rate,
                discount=line.discount,
            )
            for line in draft.lines
        ]
    )
    OrderTax.objects.bulk_create(
        [OrderTax(order=order, rate=band.rate, net=band.net, tax=band.tax) for band in draft.totals.by_rate]
    )
    OrderDiscount.objects.bulk_create(_discount_rows(order, draft))


def _discount_rows(order: Order, draft: OrderDraft) -> list[OrderDiscount]:
    """Return what each code and each sale took off the order, as rows of its own."""
    rows = [
        OrderDiscount(
            order=order,
            promotion_id=code.promotion_id,
            kind=OrderDiscount.Kind.CODE,
            code=code.code,
            name=code.name,
            amount=code.amount,
            delivery=code.delivery,
            position=position,
        )
        for position, code in enumerate(draft.totals.codes)
    ]
    sales: dict[int, tuple[str, int]] = {}
    for line in draft.lines:
        if line.sale_id is not None:
            name, saved = sales.get(line.sale_id, (line.sale_name, 0))
            sales[line.sale_id] = (name, saved + (line.list_price - line.unit_price) * line.quantity)
    rows += [
        OrderDiscount(
            order=order, promotion_id=sale_id, kind=OrderDiscount.Kind.SALE, name=name, amount=saved
        )
        for sale_id, (name, saved) in sales.items()
    ]
    return rows


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
    key = keys.checkout_key(cart_id=cart_id, cart_version=cart_version)
    existing = Order.objects.filter(checkout_key=key).first()
    if existing is not None:
        return existing, False
    draft = order_prepare(
        cart_id=cart_id,
        cart_version=cart_version,
        address=address,
        shipping_method_code=shipping_method_code,
        seen_prices=seen_prices,
        customer=customer_key(user_id=user_id, email=email),
    )
    try:
        return order_write(draft=draft, user_id=user_id, email=email, address=address), True
    except IntegrityError:
        # A concurrent submit of the same cart state won the race: use its order.
        existing = Order.objects.filter(checkout_key=key).first()
        if existing is None:
            raise
        return existing, False


def order_payment_started(
    *,
    order_id: int,
    cart_id: int,
    payment_intent: stripe_api.PaymentIntent,
    reservation: inventory.Reservation,
) -> Order:
    """Record the PaymentIntent and the reservation of a just-placed order, and empty the cart."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
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
        used = OrderDiscount.objects.filter(order=order, kind=OrderDiscount.Kind.CODE).values_list("code")
        for (code,) in used:
            # The code went with the order: the next order starts without it.
            cart_code_remove(cart_id=cart_id, code=code)
        cart_version_bump(cart_id=cart_id)
    return order


aorder_create = sync_to_async(order_create)
aorder_payment_started = sync_to_async(order_payment_started)


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
    if not order.is_payable or await Payment.objects.filter(order=order).aexists():
        return order
    if timezone.now() - order.created_at < PLACEMENT_GRACE:
        return order
    cart_id = keys.checkout_key_cart_id(order.checkout_key)
    return await _aplace_outside(order=order, cart_id=cart_id)


async def _aplace_outside(*, order: Order, cart_id: int) -> Order:
    """Create the order's PaymentIntent and reserve its stock at once; undo both on any failure."""
    calls = (
        aorder_payment_intent_create(order),
        aorder_stock_reserve(order, idempotency_key=keys.reservation_key(order_number=order.number)),
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

    await aplacement_undo(order, payment_result, reservation_result)
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
    await aorder_cancel_at_placement(order_id=order.pk, cart_id=cart_id, reason=placement_reason(error))
    logger.warning("order placement failed: %s", placement_reason(error), extra={"order": order.number})
    raise error


@task()
async def release_placement_reservation(order_id: int) -> None:
    """Give back stock a timed-out placement may still have held."""
    await aplacement_reservation_release(order_id=order_id)


@task()
async def cancel_placement_payment_intent(order_id: int) -> None:
    """Cancel a PaymentIntent a failed placement may have made though its answer never came."""
    await aplacement_payment_intent_cancel(order_id=order_id)
