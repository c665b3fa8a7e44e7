"""Errors of the checkout. Retryable failures (timeouts, 5xx) are kept apart from final ones."""

from dataclasses import dataclass

from shop.exceptions import ShopError


@dataclass(frozen=True)
class ShortLine:
    sku: str
    requested: int
    available: int


class OutOfStock(ShopError):
    """The inventory cannot hold what was asked for (final until stock changes)."""

    user_message = "Some items are no longer available in the quantity you asked for."

    def __init__(self, lines: list[ShortLine]) -> None:
        super().__init__()
        self.lines = lines


class UnknownItems(ShopError):
    """The inventory does not know (or no longer sells) some SKUs."""

    user_message = "Some items in your cart are no longer sold."

    def __init__(self, skus: list[str]) -> None:
        super().__init__()
        self.skus = skus


class InventoryUnavailable(ShopError):
    """The inventory API did not answer usefully (retryable)."""

    user_message = "We couldn't check our stock just now. Nothing was charged — please try again in a minute."


class InventoryRefused(InventoryUnavailable):
    """The inventory API turned the request down for good (a 4xx that is not about stock):
    the same request is refused again, so it is not worth retrying as it stands.

    A kind of InventoryUnavailable only so that handlers written for "the inventory did
    not do it" (releasing on cancel, committing after payment) still take it; whoever
    talks to a person catches it first and says it is final.
    """

    def __init__(self, *, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(
            "Our stock system could not take this order as it stands, so nothing was charged. "
            "Please change your cart (fewer different items, say) or contact us.",
            staff_message=f"The inventory API refused the request ({status}): {detail}",
        )


class ReservationNotHeld(ShopError):
    """A reservation could not be committed because its stock is gone."""


class PaymentGatewayUnavailable(ShopError):
    """Stripe did not answer usefully (retryable)."""

    user_message = (
        "Our payment provider is not answering just now. Nothing was charged — please try again in a minute."
    )

    def __init__(self, *, action: str = "", reason: str = "") -> None:
        what = action or "request"
        reason = reason or "no usable answer"
        super().__init__(staff_message=f"Stripe did not answer the {what} ({reason}); try again in a minute.")


class PaymentDeclined(ShopError):
    """The card was declined or its authentication failed (the shopper can try another card)."""

    user_message = "Your card was declined. Please try another card."


class PaymentRejected(ShopError):
    """Stripe refused the request itself (a 4xx that is not a decline: a bug, a misconfiguration
    or a payment Stripe does not know). Final: the same request is refused again."""

    user_message = (
        "Our payment provider turned down this payment request, so nothing was charged. "
        "Trying again will not help: please contact us and we will sort it out."
    )

    def __init__(self, *, action: str = "", detail: str = "") -> None:
        self.action = action
        self.detail = detail
        what = action or "request"
        super().__init__(staff_message=f"Stripe refused the {what}: {detail or 'no reason given'}.")


class CartError(ShopError):
    """A cart change that cannot be made as asked."""


class CartFull(CartError):
    """The cart holds as many different items as one order can."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"Your cart is full: it can hold up to {limit} different items. "
            "Please check out what you have, or remove something first."
        )


class QuantityUnavailable(CartError):
    def __init__(self, *, title: str, available: int, in_cart: int = 0) -> None:
        self.available = available
        if available <= 0:
            message = f"Sorry, {title} is out of stock."
        elif in_cart:
            message = f"Sorry, only {available} of {title} left and you already have {in_cart} in your cart."
        else:
            message = f"Sorry, only {available} of {title} left."
        super().__init__(message)
