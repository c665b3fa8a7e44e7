"""Stock reservations: the services behind the inventory API.

Every write is one short transaction. Stock rows are locked with
`SELECT … FOR UPDATE` in variant id order, always after the reservation row
(if any), so two transactions never wait on each other in a cycle; the numbers
then change with `F()` updates, never with values computed in Python.

Available = on_hand − allocated. A held reservation's units are in `allocated`;
committing takes them out of both `on_hand` and `allocated`; releasing or
expiring gives them back to `allocated`.

A SKU is known to the inventory when its variant exists, is active and has a
stock row. Each sync service has an async twin named with an `a` prefix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.expressions import Combinable
from django.utils import timezone

from catalog.models import Variant
from inventory.exceptions import (
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidReservationRequest,
    ReservationAlreadyCommitted,
    ReservationNotCommitted,
    ReservationNotFound,
    ShortLine,
    UnknownSku,
)
from inventory.models import Reservation, ReservationLine, Stock

logger = logging.getLogger(__name__)

#: How many expired reservations one transaction of `reservations_expire` handles.
EXPIRE_BATCH_SIZE = 100


@dataclass(frozen=True)
class LineRequest:
    """One line of a reservation request: a SKU and how many units to hold."""

    sku: str
    quantity: int


# The most lines, and units of one line, a reservation may hold (the API's contract;
# the cart is limited to the same, so that any cart can be reserved).
RESERVATION_MAX_LINES = 100
RESERVATION_MAX_QUANTITY = 1000


def reservation_fingerprint(*, reference: str, lines: Sequence[LineRequest], ttl_seconds: int) -> str:
    """Return the SHA-256 (hex) of the canonical JSON of a reservation request.

    Lines are sorted by SKU, so their order in the request does not matter.
    """
    canonical = json.dumps(
        {
            "reference": reference,
            "lines": sorted([line.sku, line.quantity] for line in lines),
            "ttl_seconds": ttl_seconds,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def reservation_create(
    *, idempotency_key: str, reference: str, lines: Sequence[LineRequest], ttl_seconds: int
) -> tuple[Reservation, bool]:
    """Hold stock for every line, all or nothing; return (reservation, created).

    A key seen before with the same request returns the stored reservation as it
    is now, with created False; with a different request it raises
    IdempotencyKeyReused. Raises UnknownSku or InsufficientStock (nothing held);
    those failures are not stored, so retrying the key tries again.
    """
    if not lines:
        raise InvalidReservationRequest("A reservation needs at least one line.")
    if len({line.sku for line in lines}) != len(lines):
        raise InvalidReservationRequest("Each SKU may appear only once in a reservation.")
    if any(line.quantity < 1 for line in lines) or ttl_seconds < 1:
        raise InvalidReservationRequest("Quantities and the time to live must be positive.")
    fingerprint = reservation_fingerprint(reference=reference, lines=lines, ttl_seconds=ttl_seconds)

    existing = _reservation_replayed(idempotency_key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False
    try:
        reservation = _reservation_hold(
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            reference=reference,
            lines=lines,
            ttl_seconds=ttl_seconds,
        )
    except IntegrityError:
        # A concurrent request with the same key committed first; our insert
        # failed on the unique key and the whole hold was rolled back.
        existing = _reservation_replayed(idempotency_key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, False
    logger.info("Reservation held", extra={"reservation": str(reservation.pk), "reference": reference})
    return reservation, True


def reservation_get(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Return the reservation with its lines; raise ReservationNotFound."""
    reservation = (
        Reservation.objects.prefetch_related("lines").filter(pk=_reservation_pk(reservation_id)).first()
    )
    if reservation is None:
        raise ReservationNotFound()
    return reservation


def reservation_commit(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Take the reservation's units out of stock for good; return it, committed.

    Idempotent. A held reservation (even one past its expiry time that no
    expirer has reached yet) turns its held units into sold ones. An expired or
    released one takes its units again from what is available, all lines or
    none, else raises InsufficientStock.
    """
    with transaction.atomic():
        reservation = _reservation_locked(reservation_id)
        if reservation.status == Reservation.Status.COMMITTED:
            return reservation
        quantities = _line_quantities(reservation.lines.all())
        stocks = _stocks_locked(variant_ids=quantities)
        if reservation.status == Reservation.Status.HELD:
            _stocks_move(quantities, on_hand=-1, allocated=-1)
        else:
            short = _short_lines(quantities, stocks)
            if short:
                logger.warning(
                    "Late commit refused: stock gone",
                    extra={"reservation": str(reservation.pk), "status": reservation.status},
                )
                raise InsufficientStock(lines=short)
            _stocks_move(quantities, on_hand=-1)
            logger.info(
                "Late commit honoured",
                extra={"reservation": str(reservation.pk), "status": reservation.status},
            )
        reservation.status = Reservation.Status.COMMITTED
        reservation.save(update_fields=["status", "updated_at"])
    return reservation


def reservation_release(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Give a held reservation's units back; return it.

    Idempotent: a released or expired reservation is returned unchanged.
    Raises ReservationAlreadyCommitted for a committed one.
    """
    with transaction.atomic():
        reservation = _reservation_locked(reservation_id)
        if reservation.status == Reservation.Status.COMMITTED:
            raise ReservationAlreadyCommitted()
        if reservation.status != Reservation.Status.HELD:
            return reservation
        quantities = _line_quantities(reservation.lines.all())
        _stocks_locked(variant_ids=quantities)
        _stocks_move(quantities, allocated=-1)
        reservation.status = Reservation.Status.RELEASED
        reservation.save(update_fields=["status", "updated_at"])
    return reservation


def reservation_return(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Put a committed reservation's units back on hand (e.g. an order canceled before shipping).

    Idempotent: a returned reservation is returned unchanged. Raises
    ReservationNotCommitted for one that is not committed.
    """
    with transaction.atomic():
        reservation = _reservation_locked(reservation_id)
        if reservation.status == Reservation.Status.RETURNED:
            return reservation
        if reservation.status != Reservation.Status.COMMITTED:
            raise ReservationNotCommitted()
        quantities = _line_quantities(reservation.lines.all())
        _stocks_locked(variant_ids=quantities)
        _stocks_move(quantities, on_hand=+1)
        reservation.status = Reservation.Status.RETURNED
        reservation.save(update_fields=["status", "updated_at"])
    return reservation


def reservations_expire(*, now: datetime | None = None) -> int:
    """Expire held reservations whose time has passed and give their units back.

    Return how many were expired. Safe to run from several workers at once:
    each transaction takes only reservations no one else has locked.
    """
    now = now or timezone.now()
    total = 0
    while True:
        expired = _reservations_expire_batch(now=now)
        total += expired
        if expired < EXPIRE_BATCH_SIZE:
            return total


areservation_create = sync_to_async(reservation_create)
areservation_get = sync_to_async(reservation_get)
areservation_commit = sync_to_async(reservation_commit)
areservation_release = sync_to_async(reservation_release)
areservation_return = sync_to_async(reservation_return)


def _reservation_hold(
    *,
    idempotency_key: str,
    fingerprint: str,
    reference: str,
    lines: Sequence[LineRequest],
    ttl_seconds: int,
) -> Reservation:
    """Create the reservation and allocate its units in one transaction; return it with its lines."""
    with transaction.atomic():
        # The row goes in first: a concurrent request with the same key waits
        # here on the unique index, before it has locked any stock.
        reservation = Reservation.objects.create(
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            reference=reference,
            expires_at=timezone.now() + timedelta(seconds=ttl_seconds),
        )
        variant_ids = dict(
            Variant.objects.filter(
                sku__in=[line.sku for line in lines], is_active=True, stock__isnull=False
            ).values_list("sku", "id")
        )
        unknown = [line.sku for line in lines if line.sku not in variant_ids]
        if unknown:
            raise UnknownSku(skus=sorted(unknown))
        quantities = _line_quantities(
            ReservationLine(variant_id=variant_ids[line.sku], sku=line.sku, quantity=line.quantity)
            for line in lines
        )
        stocks = _stocks_locked(variant_ids=quantities)
        short = _short_lines(quantities, stocks)
        if short:
            raise InsufficientStock(lines=short)
        _stocks_move(quantities, allocated=+1)
        ReservationLine.objects.bulk_create(
            [
                ReservationLine(reservation=reservation, variant_id=variant_id, sku=sku, quantity=quantity)
                for variant_id, (sku, quantity) in quantities.items()
            ]
        )
    return reservation_get(reservation_id=reservation.pk)


def _reservation_replayed(*, idempotency_key: str, fingerprint: str) -> Reservation | None:
    """Return the reservation stored under this key (None if none); raise if the request differs."""
    reservation = (
        Reservation.objects.prefetch_related("lines").filter(idempotency_key=idempotency_key).first()
    )
    if reservation is not None and reservation.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return reservation


def _reservation_pk(reservation_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(reservation_id, uuid.UUID):
        return reservation_id
    try:
        return uuid.UUID(reservation_id)
    except (TypeError, ValueError) as error:
        raise ReservationNotFound() from error


def _reservation_locked(reservation_id: uuid.UUID | str) -> Reservation:
    """Return the reservation locked for update, its lines prefetched. Call inside atomic()."""
    reservation = (
        Reservation.objects.select_for_update(of=("self",))
        .prefetch_related("lines")
        .filter(pk=_reservation_pk(reservation_id))
        .first()
    )
    if reservation is None:
        raise ReservationNotFound()
    return reservation


def _line_quantities(lines: Iterable[ReservationLine]) -> dict[int, tuple[str, int]]:
    """Return {variant_id: (sku, quantity)} ordered by variant id, the locking order."""
    return {
        line.variant_id: (line.sku, line.quantity) for line in sorted(lines, key=lambda line: line.variant_id)
    }


def _stocks_locked(*, variant_ids: Iterable[int]) -> dict[int, Stock]:
    """Lock the stock rows in variant id order and return them by variant id. Call inside atomic()."""
    stocks = Stock.objects.select_for_update(of=("self",)).filter(pk__in=list(variant_ids)).order_by("pk")
    return {stock.pk: stock for stock in stocks}


def _short_lines(quantities: dict[int, tuple[str, int]], stocks: dict[int, Stock]) -> list[ShortLine]:
    """Return the lines asking for more than is available (a missing stock row has none), by SKU."""
    short = []
    for variant_id, (sku, quantity) in quantities.items():
        stock = stocks.get(variant_id)
        available = stock.available if stock is not None else 0
        if available < quantity:
            short.append(ShortLine(sku=sku, requested=quantity, available=available))
    return sorted(short, key=lambda line: line.sku)


def _stock_change(variant_id: int, **changes: Combinable) -> None:
    """Apply F() changes to one stock row, already locked by the caller, in one UPDATE."""
    Stock.objects.filter(pk=variant_id).update(**changes, updated_at=timezone.now())


def _stocks_move(quantities: dict[int, tuple[str, int]], **signs: int) -> None:
    """Add each line's quantity, times the sign given for a count, to those counts of its stock row.

    `_stocks_move(quantities, on_hand=-1, allocated=-1)` takes held units out of both.
    """
    for variant_id, (_sku, quantity) in quantities.items():
        _stock_change(variant_id, **{count: F(count) + sign * quantity for count, sign in signs.items()})


def _reservations_expire_batch(*, now: datetime) -> int:
    """Expire up to EXPIRE_BATCH_SIZE held reservations that no one else has locked; return how many."""
    with transaction.atomic():
        reservation_ids = list(
            Reservation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Reservation.Status.HELD, expires_at__lte=now)
            .order_by("expires_at", "pk")
            .values_list("pk", flat=True)[:EXPIRE_BATCH_SIZE]
        )
        if not reservation_ids:
            return 0
        totals = dict(
            ReservationLine.objects.filter(reservation_id__in=reservation_ids)
            .values("variant_id")
            .annotate(total=Sum("quantity"))
            .order_by("variant_id")
            .values_list("variant_id", "total")
        )
        _stocks_locked(variant_ids=totals)
        for variant_id, quantity in totals.items():
            _stock_change(variant_id, allocated=F("allocated") - quantity)
        Reservation.objects.filter(pk__in=reservation_ids).update(
            status=Reservation.Status.EXPIRED, updated_at=timezone.now()
        )
    logger.info("Reservations expired", extra={"count": len(reservation_ids)})
    return len(reservation_ids)
