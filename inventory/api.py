"""The inventory API (`/inventory/v1/`): thin async JSON views over inventory.services.

Each view checks the bearer token, the method and the body size, parses and
validates its input, calls one service and writes JSON. Every error answer is
the shop's `{"error": <code>, "message": <text>, "retryable": <bool>}` with the
text also as `detail`, plus `lines` where the code has them.
The contract is written down in inventory/openapi.yaml.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC
from typing import Any, TypeGuard

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from inventory import services as inventory
from inventory.models import Reservation
from inventory.stock import astock_levels
from shop.errors import error_json
from shop.exceptions import InvalidInput, MethodNotAllowed, NotAuthorized, NotFound, ShopError
from shop.http import body_size_check, is_storable

MAX_BODY_BYTES = 64 * 1024
MAX_LEVEL_SKUS = 100
MAX_SKU_LENGTH = 64
MAX_REFERENCE_LENGTH = 100
MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_LINES = inventory.RESERVATION_MAX_LINES
MAX_QUANTITY = inventory.RESERVATION_MAX_QUANTITY
MAX_TTL_SECONDS = 24 * 60 * 60

View = Callable[..., Awaitable[JsonResponse]]


def error_response(error: ShopError) -> JsonResponse:
    """Return the API's JSON answer for `error`: the shop's error body, with the message also
    as "detail", the field this API's contract has always named it by."""
    return error_json(error, detail=error.user_message)


def api_view(*methods: str) -> Callable[[View], View]:
    """Wrap an async API view: token, method and body size first; errors become JSON.

    CSRF does not apply: the caller is authenticated by a bearer token, not a cookie.
    """

    def decorator(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            try:
                if not _is_authorized(request):
                    raise NotAuthorized(realm="inventory")
                if request.method not in methods:
                    raise MethodNotAllowed(methods)
                body_size_check(request, limit=MAX_BODY_BYTES)
                return await view(request, *args, **kwargs)
            except ShopError as error:
                return error_response(error)

        return wrapper

    return decorator


@api_view("GET")
async def levels(request: HttpRequest) -> JsonResponse:
    skus = request.GET.getlist("sku")
    if not skus:
        raise InvalidInput("Give at least one sku parameter.")
    if len(skus) > MAX_LEVEL_SKUS:
        raise InvalidInput(f"Give at most {MAX_LEVEL_SKUS} sku parameters.")
    for sku in skus:
        if not 1 <= len(sku) <= MAX_SKU_LENGTH or not is_storable(sku):
            raise InvalidInput(f"Each sku must be 1 to {MAX_SKU_LENGTH} characters, without NUL.")
    result = await astock_levels(skus=skus)
    return JsonResponse({"levels": [asdict(level) for level in result.levels], "unknown": result.unknown})


@api_view("POST")
async def reservation_list(request: HttpRequest) -> JsonResponse:
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if not idempotency_key.strip():
        raise InvalidInput("The Idempotency-Key header is required.")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(
            f"The Idempotency-Key header must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters."
        )
    if not is_storable(idempotency_key):
        raise InvalidInput("The Idempotency-Key header must not contain a NUL byte.")
    body = _reservation_request(request.body)
    reservation, created = await inventory.areservation_create(idempotency_key=idempotency_key, **body)
    return JsonResponse(reservation_body(reservation), status=201 if created else 200)


def _reservation_view(method: str, service: Callable[..., Awaitable[Reservation]]) -> View:
    """Return the API view that calls `service` on the reservation in the URL and answers it."""

    @api_view(method)
    async def view(request: HttpRequest, reservation_id: str) -> JsonResponse:
        return JsonResponse(reservation_body(await service(reservation_id=reservation_id)))

    return view


reservation_detail = _reservation_view("GET", inventory.areservation_get)
reservation_commit = _reservation_view("POST", inventory.areservation_commit)
reservation_release = _reservation_view("POST", inventory.areservation_release)
reservation_return = _reservation_view("POST", inventory.areservation_return)


@csrf_exempt
async def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Answer any other URL under the API with a JSON 404 rather than the shop's HTML page."""
    return error_response(NotFound("No such endpoint."))


def reservation_body(reservation: Reservation) -> dict[str, Any]:
    """Return the JSON shape of a reservation; its lines must be prefetched."""
    return {
        "id": str(reservation.pk),
        "reference": reservation.reference,
        "status": reservation.status,
        "expires_at": reservation.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines.all()],
    }


def _is_authorized(request: HttpRequest) -> bool:
    expected = settings.INVENTORY_API_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    return secrets.compare_digest(token.strip().encode(), expected.encode())


def _reservation_request(body: bytes) -> dict[str, Any]:
    """Return the validated keyword arguments of reservation_create (all but the key); raise InvalidInput."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidInput("The body is not valid JSON.") from error
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    _no_other_fields(data, {"reference", "lines", "ttl_seconds"}, where="the body")
    reference = data.get("reference")
    if (
        not isinstance(reference, str)
        or not reference.strip()
        or len(reference) > MAX_REFERENCE_LENGTH
        or not is_storable(reference)
    ):
        raise InvalidInput(
            f"reference must be a string of 1 to {MAX_REFERENCE_LENGTH} characters, without NUL."
        )
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
        raise InvalidInput(f"lines must be a list of 1 to {MAX_LINES} lines.")
    lines: list[inventory.LineRequest] = []
    seen: set[str] = set()
    for index, line in enumerate(raw_lines):
        if not isinstance(line, dict):
            raise InvalidInput(f"lines[{index}] must be an object with sku and quantity.")
        _no_other_fields(line, {"sku", "quantity"}, where=f"lines[{index}]")
        sku, quantity = line.get("sku"), line.get("quantity")
        if not isinstance(sku, str) or not 1 <= len(sku) <= MAX_SKU_LENGTH or not is_storable(sku):
            raise InvalidInput(
                f"lines[{index}].sku must be a string of 1 to {MAX_SKU_LENGTH} characters, without NUL."
            )
        if not _is_int_between(quantity, 1, MAX_QUANTITY):
            raise InvalidInput(f"lines[{index}].quantity must be an integer from 1 to {MAX_QUANTITY}.")
        if sku in seen:
            raise InvalidInput(f"lines[{index}].sku {sku!r} appears more than once; give each SKU once.")
        seen.add(sku)
        lines.append(inventory.LineRequest(sku=sku, quantity=quantity))
    ttl_seconds = data.get("ttl_seconds", settings.RESERVATION_TTL)
    if not _is_int_between(ttl_seconds, 1, MAX_TTL_SECONDS):
        raise InvalidInput(f"ttl_seconds must be an integer from 1 to {MAX_TTL_SECONDS}.")
    return {"reference": reference, "lines": lines, "ttl_seconds": ttl_seconds}


def _no_other_fields(data: dict[str, Any], allowed: set[str], *, where: str) -> None:
    # Refused rather than ignored: a misspelt "ttl" would otherwise silently get the default.
    unexpected = sorted(set(data) - allowed)
    if unexpected:
        raise InvalidInput(f"Unexpected field in {where}: {', '.join(unexpected)}.")


def _is_int_between(value: object, low: int, high: int) -> TypeGuard[int]:
    # bool is a subclass of int; true is not a quantity.
    return type(value) is int and low <= value <= high
