"""Per-client rate limits, counted in PostgreSQL so that every worker process and replica shares them.

A limit is written "<count>/<period>", e.g. "10/5m": at most 10 attempts in a window
of five minutes that opens with the client's first attempt. One statement (an
atomic upsert) counts an attempt, so concurrent requests on any number of servers
never lose a count, and the database's clock is the only clock.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest

from shop.exceptions import ShopError
from shop.models import RateLimitCounter

RATE_PATTERN = re.compile(r"^(?P<count>\d+)/(?P<length>\d*)(?P<unit>[smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
OFF_VALUES = {"", "off"}
# Counters whose window has passed are deleted now and then by whoever counts next.
PURGE_ONE_IN = 500

_COUNT_SQL = f"""
INSERT INTO {RateLimitCounter._meta.db_table} AS counter (key, hits, window_ends)
SELECT key, 1, statement_timestamp() + %s * interval '1 second'
FROM unnest(%s::text[]) AS key
ORDER BY key
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN counter.window_ends > statement_timestamp() THEN counter.hits + 1 ELSE 1 END,
    window_ends = CASE
        WHEN counter.window_ends > statement_timestamp() THEN counter.window_ends
        ELSE EXCLUDED.window_ends
    END
RETURNING counter.hits, EXTRACT(EPOCH FROM counter.window_ends - statement_timestamp())
"""  # noqa: S608 - the table name is ours; the values are parameters
_PURGE_SQL = f"DELETE FROM {RateLimitCounter._meta.db_table} WHERE window_ends < statement_timestamp()"  # noqa: S608


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@lru_cache(maxsize=32)
def rate_parse(value: str) -> Rate | None:
    """Return the rate written as "<count>/<period>" ("10/5m", "100/h", "3/30s"); None when "off"."""
    text = "".join(value.split()).lower()
    if text in OFF_VALUES:
        return None
    match = RATE_PATTERN.match(text)
    if not match or int(match["count"]) < 1 or int(match["length"] or 1) < 1:
        raise ImproperlyConfigured(
            f'A rate limit is written "<count>/<period>" with the period in s, m, h or d '
            f'(e.g. "10/5m"), or "off"; got {value!r}.'
        )
    return Rate(limit=int(match["count"]), period=int(match["length"] or 1) * UNIT_SECONDS[match["unit"]])


def wait_text(seconds: int) -> str:
    """Return a wait in words, rounded up to whole minutes past the first minute."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


class RateLimited(ShopError):
    """Too many attempts from one client: try again after `retry_after` seconds."""

    status = 429
    code = "rate_limited"
    retryable = True

    def __init__(self, *, retry_after: int, attempts: str) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many {attempts} in a short time. Please wait {wait_text(retry_after)} and try again."
        )


def client_ip(request: HttpRequest) -> str:
    """Return the client's address: the connection's, or the one our own proxies recorded.

    Each of the NUM_PROXIES load balancers in front of the shop appends the address
    it was reached from to X-Forwarded-For. Entries before those came from the
    client and may be forged, so the client is the entry NUM_PROXIES from the right.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-proxies] if len(hops) >= proxies else hops[0]


def rate_limit_hit(*, action: str, clients: Iterable[str], rate: str, attempts: str) -> None:
    """Count one attempt at `action` for each of `clients`; raise RateLimited when any is past `rate`.

    `rate` is a setting's value ("10/5m", or "off" to count nothing); `attempts`
    names them for the message ("sign-in attempts").
    """
    parsed = rate_parse(rate)
    if parsed is None:
        return
    keys = sorted({hashlib.sha256(f"{action}\0{client}".encode()).hexdigest() for client in clients})
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, [parsed.period, keys])
        counts = cursor.fetchall()
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            cursor.execute(_PURGE_SQL)
    waits = [float(seconds) for hits, seconds in counts if hits > parsed.limit]
    if waits:
        raise RateLimited(retry_after=max(1, math.ceil(max(waits))), attempts=attempts)


async def arate_limit_hit(*, action: str, clients: Iterable[str], rate: str, attempts: str) -> None:
    """Async twin of `rate_limit_hit` (one thread hop, and none when the limit is off)."""
    if rate_parse(rate) is None:
        return
    await sync_to_async(rate_limit_hit)(action=action, clients=list(clients), rate=rate, attempts=attempts)
