"""The ASGI handler reuses request threads without leaking database connections."""

import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from shop.asgi import IDLE_THREADS_KEPT, ShopASGIHandler


async def _get(application, path: str) -> tuple[int, dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # no disconnect while the response is sent

    sent = []

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def _backends(expected: int | None = None) -> int:
    """Return how many other sessions the test database has (waiting briefly for `expected`:
    a server process ends a moment after its client closed the connection)."""
    for _ in range(50):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            count = cursor.fetchone()[0]
        if expected is None or count == expected:
            break
        time.sleep(0.02)
    return count


@pytest.mark.django_db(transaction=True)
def test_request_threads_are_reused_and_give_their_connections_back():
    application = ShopASGIHandler()
    before = _backends()

    async def one_at_a_time():
        return [await _get(application, "/healthz") for _ in range(5)]

    results = async_to_sync(one_at_a_time)()
    assert results == [(200, {"status": "ok", "database": "up"})] * 5
    assert len(application._idle) == 1  # one thread served all five, one after another

    async def together():
        return await asyncio.gather(*(_get(application, "/healthz") for _ in range(6)))

    assert async_to_sync(together)() == [(200, {"status": "ok", "database": "up"})] * 6
    assert len(application._idle) == 6  # each concurrent request had a thread of its own
    # every request's database connection was closed when it finished
    assert _backends(expected=before) == before
    for executor in application._idle:
        executor.shutdown()


@pytest.mark.django_db(transaction=True)
def test_idle_threads_are_bounded(monkeypatch):
    monkeypatch.setattr("shop.asgi.IDLE_THREADS_KEPT", 2)
    application = ShopASGIHandler()

    async def together():
        return await asyncio.gather(*(_get(application, "/healthz") for _ in range(5)))

    assert [status for status, _ in async_to_sync(together)()] == [200] * 5
    assert len(application._idle) == 2
    assert IDLE_THREADS_KEPT >= 2
    for executor in application._idle:
        executor.shutdown()
