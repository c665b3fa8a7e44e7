"""Errors of the checkout. Retryable failures (timeouts, 5xx) are kept apart from final ones."""

from dataclasses import asdict, dataclass
from typing import Any

from shop.exceptions import Conflict, ShopError


@dataclass(frozen=True)
class ShortLine:
    sku: str
    requested: int
    available: int


class OutOfStock(Conflict):
    """The inventory cannot hold what was asked for (final until stock changes)."""

    code = "out_of_stock"
    user_message = "Some items are no longer available in the quantity you asked for."
    redirect_to = "checkout:cart"

    def __init__(self, lines: list[ShortLine]) -> None:
        super().__init__()
        self.lines = lines

    def describe(self, titles: dict[str, str]) -> str:
        """Return the shopper's message naming each short item (by its title in `titles`) and what is left."""
        parts = []
        for line in self.lines:
            title = titles.get(line.sku, line.sku)
            if line.available <= 0:
                parts.append(f"{title} has just sold out")
            else:
                parts.append(f"only {line.available} of {title} left (you asked for {line.requested})")
        detail = "; ".join(parts) or "some items ran out"
        return f"Sorry — {detail}. Nothing was charged; please update your cart and try again."

    def details(self) -> dict[str, Any]:
        return {"lines": [asdict(line) for line in self.lines]}


class UnknownItems(Conflict):
    """The inventory does not know (or no longer sells) some SKUs."""

    code = "unknown_items"
    user_message = (
        "Some items in your cart are no longer sold. Nothing was charged; please remove them and try again."
    )
    redirect_to = "checkout:cart"

    def __init__(self, skus: list[str]) -> None:
        super().__init__()
        self.skus = skus


class InventoryUnavailable(ShopError):
    """The inventory API did not answer usefully (retryable)."""

    status = 503
    code = "inventory_unavailable"
    retryable = True
    retry_after = 60
    user_message = "We couldn't check our stock just now. Nothing was charged — please try again in a minute."


class InventoryRefused(InventoryUnavailable):
    """The inventory API turned the request down for good (a 4xx that is not about stock):
    the same request is refused again, so it is not worth retrying as it stands.

    A kind of InventoryUnavailable only so that handlers written for "the inventory did
    not do it" (releasing on cancel, committing after payment) still take it; whoever
    talks to a person catches it first and says it is final.
    """

    status = 409
    code = "inventory_refused"
    retryable = False
    retry_after = None
    # Final: the same cart would be refused again, so back to the cart to change it.
    redirect_to = "checkout:cart"

    def __init__(self, *, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(
            "Our stock system could not take this order as it stands, so nothing was charged. "
            "Please change your cart (fewer different items, say) or contact us.",
            staff_message=f"The inventory API refused the request ({status}): {detail}",
        )


class ReservationNotHeld(Conflict):
    """A reservation could not be committed because its stock is gone."""

    code = "reservation_not_held"


class PaymentGatewayUnavailable(ShopError):
    """Stripe did not answer usefully (retryable)."""

    status = 503
    code = "payment_gateway_unavailable"
    retryable = True
    retry_after = 60
    user_message = (
        "Our payment provider is not answering just now. Nothing was charged — please try again in a minute."
    )

    def __init__(self, *, action: str = "", reason: str = "") -> None:
        what = action or "request"
        reason = reason or "no usable answer"
        super().__init__(staff_message=f"Stripe did not answer the {what} ({reason}); try again in a minute.")


class PaymentDeclined(ShopError):
    """The card was declined or its authentication failed (the shopper can try another card)."""

    status = 402
    code = "card_declined"
    user_message = "Your card was declined. Please try another card."

    def details(self) -> dict[str, Any]:
        # The payment page tells a decline (try another card) from a failure by this.
        return {"status": "declined"}


class PaymentRejected(ShopError):
    """Stripe refused the request itself (a 4xx that is not a decline: a bug, a misconfiguration
    or a payment Stripe does not know). Final: the same request is refused again."""

    status = 503
    code = "payment_rejected"
    user_message = (
        "Our payment provider turned down this payment request, so nothing was charged. "
        "Trying again will not help: please contact us and we will sort it out."
    )

    def __init__(self, *, action: str = "", detail: str = "") -> None:
        self.action = action
        self.detail = detail
        what = action or "request"
        super().__init__(staff_message=f"Stripe refused the {what}: {detail or 'no reason given'}.")


class CartError(Conflict):
    """A cart change that cannot be made as asked."""

    code = "cart_error"


class CartFull(CartError):
    """The cart holds as many different items as one order can."""

    code = "cart_full"

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"Your cart is full: it can hold up to {limit} different items. "
            "Please check out what you have, or remove something first."
        )


class QuantityUnavailable(CartError):
    """Fewer units are left (or can be sold) than the shopper asked for."""

    code = "quantity_unavailable"

    def __init__(self, *, title: str, available: int, in_cart: int = 0) -> None:
        self.available = available
        if available <= 0:
            message = f"Sorry, {title} is out of stock."
        elif in_cart:
            message = f"Sorry, only {available} of {title} left and you already have {in_cart} in your cart."
        else:
            message = f"Sorry, only {available} of {title} left."
        super().__init__(message)


class CartExpired(CartError):
    """The shopper's cart is gone (expired, or already turned into an order)."""

    code = "cart_expired"
    user_message = "Your cart has expired. Please add the items again."
    redirect_to = "checkout:cart"


class CartChanged(CartError):
    code = "cart_changed"
    user_message = "Your cart changed (perhaps in another tab). Please check it and place your order again."


class PricesChanged(CartChanged):
    """A price changed between the checkout page and placement: the shopper must see it first."""

    code = "prices_changed"

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(
            "Prices changed since you opened this page: "
            + " ".join(changes)
            + " Nothing was charged. Please check the new total and place your order again to confirm it."
        )


class CartEmpty(CartError):
    code = "cart_empty"
    user_message = "Your cart is empty."
    redirect_to = "checkout:cart"
    message_level = "info"


class IllegalTransition(Conflict):
    """An order was asked to move to a state it cannot reach from where it is."""

    code = "illegal_transition"


class PaymentFormOutOfDate(Conflict):
    code = "payment_form_out_of_date"
    user_message = (
        "This payment form is out of date (perhaps it is open in another tab). Please reload the page."
    )


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    user_message = "This order cannot be paid any more."
    leaves_page = True


class StockHoldLost(Conflict):
    code = "stock_hold_lost"
    user_message = (
        "Sorry — the items in this order sold out while it waited for payment. Nothing was charged."
    )
    leaves_page = True


class PaymentInProgress(Conflict):
    code = "payment_in_progress"
    user_message = (
        "A payment for this order is already being processed. Please wait a moment and reload the page."
    )


class PaymentUnconfirmed(ShopError):
    """The card may or may not have been charged (the provider or our database stopped answering
    while it was taken): the shopper must look before trying again, so it is never retryable."""

    status = 503
    code = "payment_unconfirmed"
    user_message = (
        "We couldn't confirm your payment with our provider just now. Please wait a minute, then reload "
        "this page: it will show whether the payment went through before you try again."
    )


class SignInRequired(ShopError):
    """An account's order asked for by someone not signed in."""

    status = 403
    code = "sign_in_required"
    user_message = "Please sign in to pay for this order."


class OrderNotPlaced(Conflict):
    """The order was made but canceled at once (its stock or payment could not be set up)."""

    code = "order_not_placed"

    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(f"This order could not be placed ({reason}). Please try again.")
