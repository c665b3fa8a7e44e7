"""The inventory's own errors, as its services raise them and its API answers them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shop.exceptions import InvalidInput, ShopError


@dataclass(frozen=True)
class ShortLine:
    """A line that cannot be served: what was asked for and what is available."""

    sku: str
    requested: int
    available: int


class InventoryError(ShopError):
    """Base class for the inventory's own errors."""


class InvalidReservationRequest(InventoryError, InvalidInput):
    """A reservation request that can never succeed as given (e.g. a SKU twice)."""


class UnknownSku(InventoryError):
    """Some SKUs are not known to the inventory (no such variant, inactive, or no stock row)."""

    def __init__(self, *, skus: Sequence[str]) -> None:
        self.skus = list(skus)
        super().__init__(f"Unknown or inactive SKU: {', '.join(self.skus)}.")


class InsufficientStock(InventoryError):
    """Not enough units for every line; nothing was held or taken."""

    def __init__(self, *, lines: Sequence[ShortLine]) -> None:
        self.lines = list(lines)
        described = ", ".join(
            f"{line.sku} ({line.requested} asked, {line.available} available)" for line in self.lines
        )
        super().__init__(f"Not enough stock for {described}.")


class IdempotencyKeyReused(InventoryError):
    """The idempotency key was already used for a different request."""

    user_message = "This Idempotency-Key was already used with a different request body."


class ReservationNotFound(InventoryError):
    user_message = "No reservation with this id."


class ReservationNotCommitted(InventoryError):
    user_message = "Only committed stock can be returned."


class ReservationAlreadyCommitted(InventoryError):
    user_message = "The reservation is already committed; its stock cannot be released."
