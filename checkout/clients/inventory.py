"""HTTP client for the inventory API (inventory/openapi.yaml).

Every call gives back the caller's database connection before it waits on the
network, has a timeout and, where it changes state, an idempotency key; every
failure becomes one of our errors: OutOfStock / UnknownItems / InventoryRefused
(final: a 4xx; the same request is refused again), InventoryUnavailable (retryable:
a timeout, no connection, a 5xx or 429, or an answer we cannot read).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.conf import settings

from checkout.clients import arelease_database_connection, shared_for_loop
from checkout.exceptions import (
    InventoryRefused,
    InventoryUnavailable,
    OutOfStock,
    ReservationNotHeld,
    ShortLine,
    UnknownItems,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reservation:
    id: str
    status: str
    expires_at: datetime | None


def _client() -> httpx.AsyncClient:
    base_url = settings.INVENTORY_API_URL.rstrip("/") + "/"
    config = (
        base_url,
        settings.INVENTORY_API_TOKEN,
        settings.INVENTORY_API_TIMEOUT,
        settings.INVENTORY_API_MAX_CONNECTIONS,
    )
    return shared_for_loop(
        ("inventory", config),
        lambda: httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(settings.INVENTORY_API_TIMEOUT),
            # Bounded to what the inventory service is sized for; callers queue beyond it.
            # An idle connection is dropped after 2 s, before the server's own keep-alive
            # timeout (uvicorn's is 5 s, httpx's default expiry too): otherwise a request
            # sent just as the server closes the connection gets no answer at all.
            limits=httpx.Limits(
                max_connections=settings.INVENTORY_API_MAX_CONNECTIONS,
                max_keepalive_connections=20,
                keepalive_expiry=2.0,
            ),
            headers={"Authorization": f"Bearer {settings.INVENTORY_API_TOKEN}"},
        ),
    )


async def _request(method: str, path: str, **kwargs: object) -> httpx.Response:
    await arelease_database_connection()
    try:
        response = await _client().request(method, path, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as error:
        logger.warning("inventory %s %s timed out", method, path)
        raise InventoryUnavailable() from error
    except httpx.HTTPError as error:
        logger.warning("inventory %s %s failed: %s", method, path, error.__class__.__name__)
        raise InventoryUnavailable() from error
    if response.status_code >= 500 or response.status_code == 429:
        logger.error("inventory %s %s answered %s", method, path, response.status_code)
        raise InventoryUnavailable()
    if response.status_code in (401, 403):
        logger.error("inventory %s %s refused our token: %s", method, path, response.status_code)
        raise InventoryRefused(status=response.status_code, detail="the API token was not accepted")
    return response


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError as error:
        logger.error("inventory answered %s with a body that is not JSON", response.status_code)
        if 400 <= response.status_code < 500:
            raise InventoryRefused(status=response.status_code, detail="no reason given") from error
        raise InventoryUnavailable() from error
    if not isinstance(body, dict):
        raise InventoryUnavailable()
    return body


def _refused(response: httpx.Response, body: dict) -> Exception:
    """Return the error for an answer that is neither success nor one the caller expects:
    a 4xx is a final refusal (saying what the API said), anything else unreadable."""
    if 400 <= response.status_code < 500:
        detail = str(body.get("detail") or body.get("error") or "no reason given")[:300]
        logger.error("inventory refused: %s %s", response.status_code, detail)
        return InventoryRefused(status=response.status_code, detail=detail)
    logger.error("inventory answered %s, which we do not expect", response.status_code)
    return InventoryUnavailable()


def _reservation(body: dict) -> Reservation:
    try:
        expires = body.get("expires_at")
        return Reservation(
            id=str(body["id"]),
            status=str(body["status"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        logger.error("inventory answered a reservation we cannot read")
        raise InventoryUnavailable() from error


def _raise_for_conflict(body: dict) -> None:
    error = body.get("error")
    lines = body.get("lines") if isinstance(body.get("lines"), list) else []
    if error == "insufficient_stock":
        raise OutOfStock(
            [
                ShortLine(
                    sku=str(line["sku"]), requested=int(line["requested"]), available=int(line["available"])
                )
                for line in lines
                if isinstance(line, dict) and {"sku", "requested", "available"} <= line.keys()
            ]
        )
    if error == "unknown_sku":
        raise UnknownItems([str(line.get("sku")) for line in lines if isinstance(line, dict)])


async def reservation_create(
    *, reference: str, lines: list[tuple[str, int]], ttl_seconds: int, idempotency_key: str
) -> Reservation:
    """Hold stock for every line, all or nothing. Return the held reservation."""
    response = await _request(
        "POST",
        "reservations",
        json={
            "reference": reference,
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            "ttl_seconds": ttl_seconds,
        },
        headers={"Idempotency-Key": idempotency_key},
    )
    body = _json(response)
    if response.status_code in (200, 201):
        return _reservation(body)
    _raise_for_conflict(body)
    raise _refused(response, body)


async def _reservation_change(reservation_id: str, action: str) -> Reservation:
    response = await _request("POST", f"reservations/{reservation_id}/{action}")
    body = _json(response)
    if response.status_code == 200:
        return _reservation(body)
    _raise_for_conflict(body)
    if response.status_code in (404, 409):
        raise ReservationNotHeld(str(body.get("detail") or body.get("error")))
    raise _refused(response, body)


async def reservation_commit(*, reservation_id: str) -> Reservation:
    """Turn held stock into sold stock. Idempotent."""
    return await _reservation_change(reservation_id, "commit")


async def reservation_release(*, reservation_id: str) -> Reservation:
    """Give held stock back. Idempotent."""
    return await _reservation_change(reservation_id, "release")


async def reservation_return(*, reservation_id: str) -> Reservation:
    """Put committed stock back on hand (an order canceled before shipping). Idempotent."""
    return await _reservation_change(reservation_id, "return")
