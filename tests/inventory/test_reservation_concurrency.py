"""The inventory services under real concurrency: threads, each with its own PostgreSQL connection."""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Reservation, ReservationLine, Stock
from inventory.services import InsufficientStock, LineRequest
from tests.audit import assert_audit_clean
from tests.factories import StockFactory, VariantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = 20


def in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(0) … work(count - 1) on WORKERS threads, released together; return results or exceptions."""
    start = threading.Barrier(min(count, WORKERS))

    def run(index: int) -> object:
        try:
            if index < WORKERS:
                start.wait(timeout=30)
            return work(index)
        except Exception as error:  # the test counts the outcomes, errors included
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, range(count)))


def outcome(result: object) -> str:
    """Return the result's type name; the whole repr for an unexpected error, to show what broke."""
    if isinstance(result, Exception) and not isinstance(result, InsufficientStock):
        return repr(result)
    return type(result).__name__


def stock(sku: str, on_hand: int) -> Stock:
    return StockFactory(variant=VariantFactory(sku=sku), on_hand=on_hand)


def test_200_buyers_for_10_units_get_exactly_10_reservations():
    shelf = stock("A", on_hand=10)

    results = in_threads(
        200,
        lambda n: inventory.reservation_create(
            idempotency_key=f"buyer-{n}", reference=f"order-{n}", lines=[LineRequest("A", 1)], ttl_seconds=900
        ),
    )

    outcomes = Counter(outcome(result) for result in results)
    assert outcomes == {"tuple": 10, "InsufficientStock": 190}
    assert all(result[1] is True for result in results if isinstance(result, tuple))
    shelf.refresh_from_db()
    assert (shelf.on_hand, shelf.allocated) == (10, 10)
    assert Reservation.objects.filter(status="held").count() == 10
    assert ReservationLine.objects.count() == 10
    short = [result for result in results if isinstance(result, InsufficientStock)]
    assert {(line.sku, line.requested) for error in short for line in error.lines} == {("A", 1)}
    assert all(0 <= line.available < 1 for error in short for line in error.lines)
    assert_audit_clean()


def test_buyers_of_several_skus_in_opposite_orders_never_oversell_or_deadlock():
    stock("A", on_hand=10)
    stock("B", on_hand=10)

    def buy(n: int) -> object:
        lines = [LineRequest("A", 1), LineRequest("B", 1)]
        return inventory.reservation_create(
            idempotency_key=f"buyer-{n}",
            reference=f"order-{n}",
            lines=lines if n % 2 else list(reversed(lines)),
            ttl_seconds=900,
        )

    results = in_threads(60, buy)

    assert Counter(outcome(result) for result in results) == {"tuple": 10, "InsufficientStock": 50}
    assert sorted(Stock.objects.values_list("variant__sku", "on_hand", "allocated")) == [
        ("A", 10, 10),
        ("B", 10, 10),
    ]
    assert_audit_clean()


def test_50_replays_of_one_key_make_one_reservation():
    shelf = stock("A", on_hand=10)

    results = in_threads(
        50,
        lambda n: inventory.reservation_create(
            idempotency_key="order-1042-reserve",
            reference="order-1042",
            lines=[LineRequest("A", 1)],
            ttl_seconds=900,
        ),
    )

    assert all(isinstance(result, tuple) for result in results), Counter(outcome(r) for r in results)
    assert len({reservation.pk for reservation, _created in results}) == 1
    assert Counter(created for _reservation, created in results) == {True: 1, False: 49}
    assert Reservation.objects.count() == 1
    shelf.refresh_from_db()
    assert (shelf.on_hand, shelf.allocated) == (10, 1)
    assert_audit_clean()


def test_two_expirers_racing_release_each_reservation_once(monkeypatch):
    # Small batches, so that the two workers interleave over many transactions.
    monkeypatch.setattr(inventory, "EXPIRE_BATCH_SIZE", 3)
    stock("A", on_hand=100)
    stock("B", on_hand=100)
    for n in range(40):
        inventory.reservation_create(
            idempotency_key=f"k{n}",
            reference=f"order-{n}",
            lines=[LineRequest("A", 2), LineRequest("B", 1)],
            ttl_seconds=60,
        )
    assert sorted(Stock.objects.values_list("allocated", flat=True)) == [40, 80]
    later = timezone.now() + timedelta(minutes=5)

    counts = in_threads(2, lambda n: inventory.reservations_expire(now=later))

    assert all(isinstance(count, int) for count in counts), counts
    assert sum(counts) == 40
    assert Reservation.objects.filter(status="expired").count() == 40
    assert sorted(Stock.objects.values_list("variant__sku", "on_hand", "allocated")) == [
        ("A", 100, 0),
        ("B", 100, 0),
    ]
    assert_audit_clean()


def test_commit_release_and_expire_racing_on_the_same_reservations_keep_stock_consistent():
    shelf = stock("A", on_hand=20)
    reservations = [
        inventory.reservation_create(
            idempotency_key=f"k{n}", reference=f"order-{n}", lines=[LineRequest("A", 1)], ttl_seconds=60
        )[0]
        for n in range(20)
    ]
    later = timezone.now() + timedelta(minutes=5)

    def act(n: int) -> object:
        reservation_id = reservations[n // 3].pk
        match n % 3:
            case 0:
                return inventory.reservation_commit(reservation_id=reservation_id).status
            case 1:
                return inventory.reservation_release(reservation_id=reservation_id).status
            case _:
                return inventory.reservations_expire(now=later)

    results = in_threads(60, act)

    # Whichever ran first, every commit ends committed: a late one takes back the
    # unit its own release or expiry gave back. A release after it is refused.
    unexpected = [
        result
        for result in results
        if isinstance(result, Exception) and not isinstance(result, inventory.ReservationAlreadyCommitted)
    ]
    assert unexpected == []
    assert Counter(results[n] for n in range(0, 60, 3)) == {"committed": 20}
    assert Counter(Reservation.objects.values_list("status", flat=True)) == {"committed": 20}
    shelf.refresh_from_db()
    assert (shelf.on_hand, shelf.allocated) == (0, 0)
    assert_audit_clean()
