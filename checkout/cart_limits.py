"""How much one cart may hold: no more lines than one stock reservation can take, so
that every cart that can be filled can also be checked out."""

from django.conf import settings

from checkout.exceptions import CartFull
from inventory.services import RESERVATION_MAX_LINES


def cart_max_lines() -> int:
    """Return how many different items a cart may hold (CART_MAX_LINES, at most the
    inventory's limit per reservation; 0 means that limit)."""
    configured = settings.CART_MAX_LINES
    return min(configured, RESERVATION_MAX_LINES) if configured > 0 else RESERVATION_MAX_LINES


def cart_room_check(*, lines_held: int) -> None:
    """Raise CartFull when a cart holding `lines_held` lines cannot take another."""
    limit = cart_max_lines()
    if lines_held >= limit:
        raise CartFull(limit=limit)
