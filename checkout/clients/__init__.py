"""Clients for the APIs the checkout calls: Stripe and the inventory service."""

import asyncio
import weakref
from collections.abc import Callable

_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, object]]" = (
    weakref.WeakKeyDictionary()
)


def shared_for_loop[T](key: object, factory: Callable[[], T]) -> T:
    """Return one client per event loop and configuration `key`, made lazily by `factory`.

    A server process runs one loop, so this is one client per process, with its
    connection pool reused by every request. Connection pools belong to the loop
    that opened them; keying by loop keeps a second loop (a management command,
    a test) from touching another loop's sockets.
    """
    loop = asyncio.get_running_loop()
    clients = _per_loop.setdefault(loop, {})
    if key not in clients:
        clients[key] = factory()
    return clients[key]  # type: ignore[return-value]


def _release_connection() -> None:
    from django.db import connection

    if not connection.in_atomic_block:
        connection.close()


async def arelease_database_connection() -> None:
    """Give this request's database connection back before waiting on the network.

    Django holds a request's connection until the request ends; a request that
    awaits Stripe or the inventory API would otherwise sit on a pooled connection
    the whole time, and an inventory API served by the same process could starve.
    Every client function calls this first, so callers need not; inside a
    transaction it does nothing.
    """
    from asgiref.sync import sync_to_async

    await sync_to_async(_release_connection)()
