"""Small helpers that several test modules share (test modules never import each other)."""

from __future__ import annotations

from asgiref.sync import async_to_sync

from checkout import selectors
from checkout.models import Cart
from checkout.quote import Quote


def prices_seen(cart: Cart) -> Quote:
    """Return the prices the checkout page would show for `cart` now, as placement compares them."""

    async def read() -> Quote:
        summary = await selectors.cart_summary(cart=cart)
        methods = await selectors.shipping_methods()
        rates = await selectors.tax_rates()
        return selectors.checkout_quote(summary=summary, methods=methods, rates=rates)

    return async_to_sync(read)()
