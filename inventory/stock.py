"""Stock levels as the inventory API reports them, and staff's adjustments of on-hand counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import transaction

from inventory.models import Stock, StockAdjustment
from shop.exceptions import InvalidInput


@dataclass(frozen=True)
class StockLevel:
    sku: str
    on_hand: int
    allocated: int
    available: int


@dataclass(frozen=True)
class StockLevels:
    """Levels of the known SKUs (in the order asked) and the SKUs not known."""

    levels: list[StockLevel]
    unknown: list[str]


def stock_levels(*, skus: Sequence[str]) -> StockLevels:
    """Return the levels of the known SKUs, in the order given (each once), and the unknown ones."""
    wanted = list(dict.fromkeys(skus))
    rows = Stock.objects.filter(variant__sku__in=wanted, variant__is_active=True).values_list(
        "variant__sku", "on_hand", "allocated"
    )
    found = {
        sku: StockLevel(sku=sku, on_hand=on_hand, allocated=allocated, available=on_hand - allocated)
        for sku, on_hand, allocated in rows
    }
    return StockLevels(
        levels=[found[sku] for sku in wanted if sku in found],
        unknown=[sku for sku in wanted if sku not in found],
    )


def stock_adjust(*, variant_id: int, on_hand: int, reason: str, user_id: int | None) -> StockAdjustment:
    """Set a SKU's on-hand count, recording who, why, before and after.

    Refuses a count below what open reservations hold, or a blank reason.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give a reason for the change.")
    if on_hand < 0 or on_hand > 10_000_000:
        raise InvalidInput("On hand must be a whole number from 0 to 10,000,000.")
    with transaction.atomic():
        stock = Stock.objects.select_for_update().filter(variant_id=variant_id).first()
        if stock is None:
            raise InvalidInput("That SKU has no stock record.")
        if on_hand < stock.allocated:
            raise InvalidInput(
                f"{stock.allocated} units are held by orders awaiting payment; on hand cannot go below that."
            )
        adjustment = StockAdjustment.objects.create(
            variant_id=variant_id,
            on_hand_before=stock.on_hand,
            on_hand_after=on_hand,
            reason=reason[:200],
            user_id=user_id,
        )
        stock.on_hand = on_hand
        stock.save(update_fields=["on_hand", "updated_at"])
    return adjustment


astock_levels = sync_to_async(stock_levels)
astock_adjust = sync_to_async(stock_adjust)
