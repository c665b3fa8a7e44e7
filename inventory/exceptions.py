"""The inventory's own errors, as its services raise them and its API answers them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shop.exceptions import Conflict, InvalidInput, NotFound, ShopError


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


class UnknownSku(InventoryError, Conflict):
    """Some SKUs are not known to the inventory (no such variant, inactive, or no stock row)."""

    code = "unknown_sku"

    def __init__(self, *, skus: Sequence[str]) -> None:
        self.skus = list(skus)
        super().__init__(f"Unknown or inactive SKU: {', '.join(self.skus)}.")

    def details(self) -> dict[str, Any]:
        return {"lines": [{"sku": sku} for sku in self.skus]}


class InsufficientStock(InventoryError, Conflict):
    """Not enough units for every line; nothing was held or taken."""

    code = "insufficient_stock"

    def __init__(self, *, lines: Sequence[ShortLine]) -> None:
        self.lines = list(lines)
        described = ", ".join(
            f"{line.sku} ({line.requested} asked, {line.available} available)" for line in self.lines
        )
        super().__init__(f"Not enough stock for {described}.")

    def details(self) -> dict[str, Any]:
        return {"lines": [asdict(line) for line in self.lines]}


class IdempotencyKeyReused(InventoryError):
    """The idempotency key was already used for a different request."""

    status = 422
    code = "idempotency_key_reused"
    user_message = "This Idempotency-Key was already used with a different request body."


class ReservationNotFound(InventoryError, NotFound):
    user_message = "No reservation with this id."


class ReservationNotCommitted(InventoryError, Conflict):
    code = "not_committed"
    user_message = "Only committed stock can be returned."


class ReservationAlreadyCommitted(InventoryError, Conflict):
    code = "already_committed"
    user_message = "The reservation is already committed; its stock cannot be released."
