"""Carts: adding and changing lines, merging a guest cart at sign-in, finding a request's cart."""

import logging
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import F, Func, Value
from django.utils import timezone

from catalog.models import Variant
from catalog.sellable import sellable_q, with_sellable
from checkout.cart_limits import cart_max_lines, cart_room_check
from checkout.exceptions import (
    CartError,
    QuantityUnavailable,
)
from checkout.locks import cart_lock, carts_lock_for_merge
from checkout.models import (
    Cart,
    CartLine,
)
from inventory.selectors import variant_available, with_stock

logger = logging.getLogger(__name__)


CART_SESSION_KEY = "cart_id"
MAX_LINE_QUANTITY = 20


def _variant_for_sale(variant_id: int) -> Variant:
    variant = (
        with_stock(Variant.objects.select_related("product")).filter(sellable_q(), pk=variant_id).first()
    )
    if variant is None:
        raise CartError("Sorry, that item is no longer sold.")
    return variant


def _title(variant: Variant) -> str:
    label = variant.label
    return f"{variant.product.title} ({label})" if variant.options else variant.product.title


def cart_codes_set(*, cart_id: int, codes: Sequence[str], expected: Sequence[str]) -> bool:
    """Keep the discount codes the shopper entered, in order, if the cart still has `expected`
    (another tab may have changed them since they were read); return whether it did. An open
    checkout page is then out of date, as after any change of the cart."""
    return bool(
        Cart.objects.filter(pk=cart_id, discount_codes=list(expected)).update(
            discount_codes=list(codes), version=F("version") + 1, updated_at=timezone.now()
        )
    )


def cart_code_remove(*, cart_id: int, code: str | None = None) -> None:
    """Take the code (every code, for None) off the cart."""
    field = Cart._meta.get_field("discount_codes")
    codes = []
    if code:
        codes = Func(F("discount_codes"), Value(code), function="array_remove", output_field=field)
    Cart.objects.filter(pk=cart_id).update(
        discount_codes=codes, version=F("version") + 1, updated_at=timezone.now()
    )


acart_codes_set = sync_to_async(cart_codes_set)
acart_code_remove = sync_to_async(cart_code_remove)


def cart_version_bump(*, cart_id: int) -> None:
    """Give the cart a new version: a checkout page opened before the change can no longer place it."""
    Cart.objects.filter(pk=cart_id).update(version=F("version") + 1, updated_at=timezone.now())


def cart_line_add(*, cart_id: int, variant_id: int, quantity: int) -> int:
    """Add `quantity` of a variant to the cart. Return the line's new quantity.

    Raise QuantityUnavailable when the cart would hold more than is available.
    """
    if quantity < 1 or quantity > MAX_LINE_QUANTITY:
        raise CartError(f"Choose a quantity from 1 to {MAX_LINE_QUANTITY}.")
    with transaction.atomic():
        cart = cart_lock(cart_id=cart_id)
        variant = _variant_for_sale(variant_id)
        # One read of the (locked) cart's lines finds this variant's line and counts the room left.
        lines = {line.variant_id: line for line in CartLine.objects.filter(cart=cart)}
        line = lines.get(variant.pk)
        if line is None:
            cart_room_check(lines_held=len(lines))
        in_cart = line.quantity if line else 0
        wanted = in_cart + quantity
        if wanted > MAX_LINE_QUANTITY:
            raise CartError(f"You can buy at most {MAX_LINE_QUANTITY} of one item.")
        available = variant_available(variant)
        if wanted > available:
            raise QuantityUnavailable(title=_title(variant), available=available, in_cart=in_cart)
        if line:
            line.quantity = wanted
            line.save(update_fields=["quantity"])
        else:
            CartLine.objects.create(cart=cart, variant=variant, quantity=wanted)
        cart_version_bump(cart_id=cart.pk)
    return wanted


def cart_line_set(*, cart_id: int, variant_id: int, quantity: int) -> None:
    """Set a line's quantity; 0 removes it."""
    if quantity < 0 or quantity > MAX_LINE_QUANTITY:
        raise CartError(f"Choose a quantity from 0 to {MAX_LINE_QUANTITY}.")
    with transaction.atomic():
        cart = cart_lock(cart_id=cart_id)
        line = (
            with_sellable(
                with_stock(CartLine.objects.filter(cart=cart, variant_id=variant_id), variant="variant"),
                variant="variant",
            )
            .select_related("variant__product")
            .first()
        )
        if line is None:
            raise CartError("That item is not in your cart any more.")
        if quantity == 0:
            line.delete()
        else:
            if quantity > line.quantity and not line.is_sellable:
                raise CartError(f"Sorry, {_title(line.variant)} is no longer sold, so you cannot add more.")
            available = variant_available(line.variant)
            if quantity > line.quantity and quantity > available:
                raise QuantityUnavailable(title=_title(line.variant), available=available)
            line.quantity = quantity
            line.save(update_fields=["quantity"])
        cart_version_bump(cart_id=cart.pk)


def cart_attach_to_user(*, session: SessionBase, user) -> Cart:
    """Merge the guest cart kept in `session` into the user's cart, after sign-in.

    Quantities of the same variant add up (capped at the per-line maximum). The
    guest cart is deleted; the session then points at the user's cart.
    """
    with transaction.atomic():
        user_cart, _ = Cart.objects.get_or_create(user=user)
        user_cart, guest = carts_lock_for_merge(
            user_cart_id=user_cart.pk, guest_cart_id=session.get(CART_SESSION_KEY)
        )
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
            cart_version_bump(cart_id=user_cart.pk)
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
