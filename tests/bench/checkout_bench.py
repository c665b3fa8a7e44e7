"""Checkout and webhook figures on loopback (not part of the test suite).

    .venv/bin/python tests/bench/checkout_bench.py [--delay 0.1] [--orders 200] [--concurrency 8]

Runs the shop as in production (DEBUG off, connection pool on, one uvicorn
worker) against the database at DATABASE_URL (default: the development one,
seeded by `make run`), with localstripe and the inventory API each behind a proxy
that adds `--delay` seconds, then measures:

* place order (the concurrent PaymentIntent + reservation step) at a fixed
  concurrency: latency percentiles and requests/s;
* the same with the outside calls made one after the other
  (CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS=true), to show what the concurrency buys;
* webhook ingest: signed events per second at the same concurrency.

Every request goes to 127.0.0.1 and the run is bounded by --orders.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import stripe  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

from catalog.models import Variant  # noqa: E402
from checkout.models import Cart, CartLine  # noqa: E402
from inventory.models import Stock  # noqa: E402
from tests.helpers import home_standard_delivery, prices_seen  # noqa: E402
from tests.servers import DelayProxy, LocalStripe, ShopProcess, free_port  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def prepare_buyers(count: int) -> list[tuple[str, str, int, str]]:
    """Return (session key, CSRF secret, cart version, prices seen) for `count` one-item shoppers."""
    home_standard_delivery()
    variant = Variant.objects.filter(is_active=True, product__is_active=True).order_by("id").first()
    Stock.objects.filter(variant=variant).update(on_hand=10**6, allocated=0)
    buyers = []
    for _ in range(count):
        cart = Cart.objects.create()
        CartLine.objects.create(cart=cart, variant=variant, quantity=1)
        session = SessionStore()
        session["cart_id"] = cart.pk
        session.create()
        buyers.append((session.session_key, secrets.token_hex(16), cart.version, prices_seen(cart).sign()))
    return buyers


async def place_orders(url: str, buyers: list, concurrency: int) -> tuple[list[float], int, float]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, key: str, csrf: str, version: int, seen: str) -> None:
        nonlocal errors
        async with limit:
            started = time.perf_counter()
            response = await client.post(
                f"{url}/checkout/",
                data={
                    "csrfmiddlewaretoken": csrf,
                    "cart_version": version,
                    "quote": seen,
                    "email": "bench@example.com",
                    "full_name": "Bench Buyer",
                    "line1": "1 Road",
                    "city": "Leeds",
                    "postcode": "LS1 1AA",
                    "country": "GB",
                    "shipping_method": "standard",
                },
                headers={"Cookie": f"sessionid={key}; csrftoken={csrf}"},
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 302 or not response.headers.get("location", "").endswith("/pay/"):
                errors += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None)) as client:
        await asyncio.gather(*(one(client, *buyer) for buyer in buyers))
    return latencies, errors, time.perf_counter() - started


async def ingest_webhooks(
    url: str, secret: str, count: int, concurrency: int
) -> tuple[list[float], int, float]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, index: int) -> None:
        nonlocal errors
        body = json.dumps(
            {
                "id": f"evt_bench_{secrets.token_hex(8)}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {"object": {"id": f"pi_not_ours_{index}", "object": "payment_intent"}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(body, secret)
        async with limit:
            started = time.perf_counter()
            response = await client.post(
                f"{url}/webhooks/stripe/",
                content=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, index) for index in range(count)))
    return latencies, errors, time.perf_counter() - started


def row(name: str, latencies: list[float], errors: int, elapsed: float) -> str:
    return (
        f"| {name} | {len(latencies) / elapsed:.0f} | {statistics.median(latencies) * 1000:.0f} | "
        f"{percentile(latencies, 0.95) * 1000:.0f} | {percentile(latencies, 0.99) * 1000:.0f} | {errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every outside call")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    database_url = os.environ["DATABASE_URL"]
    localstripe = LocalStripe()
    stripe_proxy = DelayProxy(target=localstripe.url, name="stripe", delay=args.delay).start()
    rows = []
    try:
        for label, sequential in (
            ("place order, calls concurrent", "false"),
            ("place order, calls one after the other", "true"),
        ):
            port = free_port()
            inventory_proxy = DelayProxy(
                target=f"http://127.0.0.1:{port}", name="inventory", delay=args.delay
            ).start()
            shop = ShopProcess(
                database_url=database_url,
                port=port,
                env={
                    "STRIPE_API_BASE": stripe_proxy.url,
                    "CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS": sequential,
                    "INVENTORY_API_URL": f"{inventory_proxy.url}/inventory/v1",
                    "LOG_LEVEL": "WARNING",
                    # Every simulated shopper comes from 127.0.0.1.
                    "RATE_LIMIT_PLACE_ORDER": "off",
                },
            )
            try:
                buyers = prepare_buyers(args.orders)
                rows.append(row(label, *asyncio.run(place_orders(shop.url, buyers, args.concurrency))))
                if sequential == "false":
                    secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_test_suite")
                    rows.append(
                        row(
                            "webhook ingest (signed events)",
                            *asyncio.run(
                                ingest_webhooks(shop.url, secret, args.orders * 5, args.concurrency)
                            ),
                        )
                    )
            finally:
                shop.stop()
                inventory_proxy.stop()
    finally:
        stripe_proxy.stop()
        localstripe.stop()
    print(
        f"\nOne uvicorn worker, {os.cpu_count()} cores, outside calls delayed {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency}, {args.orders} orders\n"
    )
    print("| what | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
