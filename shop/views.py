"""The site shell: health check (and a bare page for benchmarks)."""

import asyncio
import logging
import os

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

HEALTH_CHECK_TIMEOUT = 3.0
# Set by the development runner (scripts/devctl.py) for the server it starts; empty elsewhere.
RUN_TOKEN = os.environ.get("SHOP_RUN_TOKEN", "")
RUN_TOKEN_HEADER = "X-Shop-Run-Token"  # noqa: S105 - a header name, not a secret


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    """Return 200 when the database answers, 503 when it does not.

    Under `make run` the answer carries the run's token, so the runner knows the server
    answering is the one it started and not another program on the same port."""
    try:
        await asyncio.wait_for(sync_to_async(_database_ping)(), HEALTH_CHECK_TIMEOUT)
    except (DatabaseError, TimeoutError) as error:
        logger.warning("health check failed: %s", error.__class__.__name__)
        response = JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    else:
        response = JsonResponse({"status": "ok", "database": "up"})
    if RUN_TOKEN:
        response[RUN_TOKEN_HEADER] = RUN_TOKEN
    return response


@require_safe
async def bench_ping(request: HttpRequest) -> HttpResponse:
    """The ceiling for benchmarks: an async view that does nothing (routed only with BENCH_ENDPOINTS)."""
    return HttpResponse(b"ok", content_type="text/plain")
