"""`make bench`: how fast the shop is, against what people would otherwise run (loopback only).

    .venv/bin/python tests/bench/suite.py [--workers 1] [--delay 0.1] [--duration 8] [--levels 16,64,256]
                                          [--products 10000] [--quick]

Seeds a benchmark database, then runs every server as its own process:
localstripe and the shop's inventory service, each behind a proxy that adds
--delay seconds, and the shop under test in turn as
  * ASGI: uvicorn (uvloop, httptools), --workers processes;
  * WSGI: gunicorn gthread (8 threads a process) and gunicorn sync, same processes;
all with DEBUG off and the connection pool on. For each it measures pages with
wrk, and add-to-cart, place-order and webhook ingest with an async driver
(sessions and carts prepared in the database), at each concurrency level:
requests/s, p50, p95, p99 and errors. Results go to bench-results/ as JSON and
Markdown, with the ratios that make them mean something, and a profile of the
slowest page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench-results"
LUA = Path(__file__).with_name("latency.lua")
BENCH_SECRET_KEY = "bench-" + "k" * 60

from tests.servers import free_port, wait_for_http  # noqa: E402


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def database_url(name: str) -> str:
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/shop")
    return urlunsplit(base._replace(path=f"/{name}"))


def production_env(db_url: str, static_root: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DEBUG"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=BENCH_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        DATABASE_URL=db_url,
        DATABASE_POOL="true",
        DATABASE_POOL_MAX_SIZE="20",
        STATIC_ROOT=static_root,
        INVENTORY_API_TOKEN="bench-inventory-" + "t" * 24,
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_PUBLISHABLE_KEY="pk_test_bench",
        STRIPE_WEBHOOK_SECRET="whsec_bench",
        BENCH_ENDPOINTS="true",
        # Every simulated shopper comes from 127.0.0.1.
        RATE_LIMIT_LOGIN="1000000/1m",
        RATE_LIMIT_PLACE_ORDER="1000000/1m",
        LOG_LEVEL="WARNING",
        EMAIL_URL="consolemail://",
    )
    env.update(extra)
    return env


class Service:
    def __init__(
        self, name: str, command: list[str], env: dict[str, str], port: int, health: str = "/"
    ) -> None:
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_http(self.url + health, timeout=60)
        except RuntimeError:
            self.stop()
            raise RuntimeError(
                f"{name} did not start: {self.process.stderr.read().decode()[-2000:]}"
            ) from None

    def rss_mb(self) -> float:
        import psutil

        parent = psutil.Process(self.process.pid)
        workers = parent.children(recursive=True) or [parent]
        return max(proc.memory_info().rss for proc in workers) / 2**20

    def pids(self) -> list[int]:
        import psutil

        parent = psutil.Process(self.process.pid)
        return [proc.pid for proc in parent.children(recursive=True)] or [parent.pid]

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) used so far by the service's processes."""
        import psutil

        total = 0.0
        for pid in {self.process.pid, *self.pids()}:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def prepare_database(name: str, products: int) -> str:
    import psycopg

    url = database_url(name)
    server = urlsplit(url)
    with psycopg.connect(
        host=server.hostname,
        port=server.port or 5432,
        user=server.username or "postgres",
        dbname="postgres",
        autocommit=True,
    ) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "DATABASE_POOL": "false",
    }
    say(f"Migrating and seeding {products:,} products into {name}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--products", str(products), "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return url


def setup_django(db_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
    os.environ["DATABASE_URL"] = db_url
    os.environ["SECRET_KEY"] = BENCH_SECRET_KEY  # sessions made here must be readable by the servers
    import django

    django.setup()


def with_cpu(shop: Service, outside: list[Service], function, *args) -> dict:
    """Return `function(*args)`'s figures with the CPU milliseconds a request cost the shop and the outside
    services (localstripe, the inventory service, the delay proxies): on a machine shared
    with the load generator these, unlike wall-clock figures, do not depend on who else runs."""
    before_shop, before_outside = shop.cpu_seconds(), sum(service.cpu_seconds() for service in outside)
    result = function(*args)
    settle(shop.url)
    requests = max(result.get("requests", 0), 1)
    result["shop_cpu_ms"] = round((shop.cpu_seconds() - before_shop) * 1000 / requests, 2)
    outside_cpu = sum(service.cpu_seconds() for service in outside) - before_outside
    result["outside_cpu_ms"] = round(outside_cpu * 1000 / requests, 2)
    return result


def settle(url: str, limit: float = 120.0) -> None:
    """Wait until the server has worked off what a cell left queued (a sync worker keeps
    serving requests its clients gave up on), so each cell starts from an idle server."""
    import urllib.request

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=limit):
                pass
        except OSError:
            pass
        if time.monotonic() - began < 0.5:
            return


def wrk(url: str, concurrency: int, duration: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = [line for line in output.splitlines() if line.startswith("{")][-1]
    return json.loads(line)


async def drive(make_request, concurrency: int, duration: float, limit: int | None = None) -> dict:
    """Run `concurrency` users for `duration` seconds (or `limit` requests); return the figures."""
    import httpx

    latencies: list[float] = []
    samples: list[str] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration
    counter = iter(range(10**9))

    async def user(client: httpx.AsyncClient, number: int) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            index = next(counter)
            if limit is not None and index >= limit:
                return
            began = time.perf_counter()
            try:
                ok = await make_request(client, number, index)
            except httpx.HTTPError as error:
                ok = f"{error.__class__.__name__}"
            latencies.append(time.perf_counter() - began)
            if ok is not True:
                errors += 1
                if len(samples) < 3:
                    samples.append(str(ok))

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(user(client, number) for number in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def pct(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50": round(pct(0.5), 2),
        "p95": round(pct(0.95), 2),
        "p99": round(pct(0.99), 2),
        "errors": errors,
        **({"sample_errors": samples} if samples else {}),
    }


def prepare_shoppers(count: int, *, with_cart: bool) -> list[tuple[str, str, int, str]]:
    """Return (session key, csrf secret, cart version, prices seen) for `count` shoppers, made in bulk."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from catalog.models import Variant
    from checkout.models import Cart, CartLine
    from inventory.models import Stock
    from tests.helpers import home_standard_delivery, prices_seen

    home_standard_delivery()
    variant = Variant.objects.filter(is_active=True, product__is_active=True).order_by("id").first()
    Stock.objects.filter(variant=variant).update(on_hand=10**8, allocated=0)
    carts = Cart.objects.bulk_create([Cart() for _ in range(count)]) if with_cart else [None] * count
    if with_cart:
        CartLine.objects.bulk_create([CartLine(cart=cart, variant=variant, quantity=1) for cart in carts])
    # Every cart holds the same line, so the checkout page would show each the same prices.
    seen = prices_seen(carts[0]).sign() if with_cart and carts else ""
    store = SessionStore()
    sessions, shoppers = [], []
    for cart in carts:
        key = store._get_new_session_key()
        data = {"cart_id": cart.pk} if cart else {}
        sessions.append(
            Session(
                session_key=key,
                session_data=store.encode(data),
                expire_date=timezone.now() + timedelta(days=1),
            )
        )
        shoppers.append((key, secrets.token_hex(16), cart.version if cart else 0, seen))
    Session.objects.bulk_create(sessions)
    return shoppers


def flows(base: str, webhook_secret: str, variant_ids: list[int]):
    import stripe

    def cookies(key: str, csrf: str) -> dict:
        return {"Cookie": f"sessionid={key}; csrftoken={csrf}"}

    def add_to_cart(shoppers):
        async def request(client, user, index):
            key, csrf, _, _ = shoppers[user]
            variant = variant_ids[(user * 7919 + index) % len(variant_ids)]
            response = await client.post(
                f"{base}/cart/add/",
                headers=cookies(key, csrf),
                data={"csrfmiddlewaretoken": csrf, "variant": variant, "quantity": 1},
            )
            location = response.headers.get("location", "")
            return (
                response.status_code == 302 and location == "/cart/"
            ) or f"{response.status_code} {location}"

        return request

    def place_order(shoppers):
        async def request(client, user, index):
            key, csrf, version, seen = shoppers[index]
            response = await client.post(
                f"{base}/checkout/",
                headers=cookies(key, csrf),
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
            )
            location = response.headers.get("location", "")
            return (
                response.status_code == 302 and location.endswith("/pay/")
            ) or f"{response.status_code} {location}"

        return request

    async def webhook(client, user, index):
        body = json.dumps(
            {
                "id": f"evt_bench_{secrets.token_hex(10)}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {"object": {"id": f"pi_not_ours_{index}", "object": "payment_intent"}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(body, webhook_secret)
        response = await client.post(
            f"{base}/webhooks/stripe/",
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        return response.status_code == 200

    return add_to_cart, place_order, webhook


OUR_CODE = ("catalog/", "checkout/", "shop/", "config/")


def profile(service: Service, url: str, seconds: int = 6) -> list[str]:
    """Return the hottest functions of the server while wrk loads `url`, from py-spy.

    Only samples holding the GIL count (`--gil`): where the server spends its CPU,
    not where its threads wait for the database or the network.
    """
    raw = Path(tempfile.mkstemp(suffix=".txt")[1])
    pid = service.pids()[0]
    spy = subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-r",
            "200",
            "--gil",
            "-f",
            "raw",
            "-o",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    wrk(url, 16, seconds)
    spy.wait(timeout=60)
    idle = ("Condition.wait", "_worker", "Thread.join", "Runner.run", "Event.wait", "run_forever", "select")
    inclusive: dict[str, int] = {}
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(idle):
            continue  # a thread waiting for work
        busy += int(count)
        for frame in set(frames):
            if frame.partition(" (")[2].startswith(OUR_CODE) or "django/" in frame or "psycopg" in frame:
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:20]
    return [f"{count / max(busy, 1):6.1%}  {frame[:150]}" for frame, count in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--levels", default="16,64,256")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database", default="shop_bench")
    parser.add_argument(
        "--quick", action="store_true", help="one level, short runs: to check the bench works"
    )
    args = parser.parse_args()
    levels = [16] if args.quick else [int(level) for level in args.levels.split(",")]
    duration = 3 if args.quick else args.duration
    if not shutil.which("wrk"):
        sys.exit("error: wrk is not installed (Debian: apt-get install -y wrk); make bench installs it.")

    db_url = prepare_database(args.database, args.products)
    static_root = tempfile.mkdtemp(prefix="shop-bench-static-")
    base_env = production_env(db_url, static_root)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=base_env,
        check=True,
    )
    setup_django(db_url)
    from catalog.models import Product, Variant
    from inventory.models import Stock

    variant_ids = list(
        Variant.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)[:2000]
    )
    Stock.objects.filter(variant_id__in=variant_ids).update(on_hand=10**8, allocated=0)
    slug = Product.objects.filter(is_active=True).order_by("id").values_list("slug", flat=True).first()
    pages = {
        "home": "/",
        "category listing": "/category/clothing/",
        "product": f"/products/{slug}/",
        "search": "/search/?q=merino+jumper",
    }

    services: list[Service] = []
    rows: list[dict] = []
    profile_lines: list[str] = []
    try:
        stripe_port, stripe_proxy_port, inventory_port, inventory_proxy_port = (free_port() for _ in range(4))
        services.append(
            Service(
                "localstripe",
                [sys.executable, "scripts/localstripe_server.py", "--port", str(stripe_port), "--quiet"],
                base_env,
                stripe_port,
                "/js.stripe.com/v3/",
            )
        )
        services.append(
            Service(
                "stripe delay",
                [
                    sys.executable,
                    "scripts/delay_proxy.py",
                    "--port",
                    str(stripe_proxy_port),
                    "--target",
                    services[0].url,
                    "--delay",
                    str(args.delay),
                ],
                base_env,
                stripe_proxy_port,
                "/js.stripe.com/v3/",
            )
        )
        services.append(
            Service(
                "inventory",
                [
                    str(BIN / "uvicorn"),
                    "config.asgi:application",
                    "--port",
                    str(inventory_port),
                    "--lifespan",
                    "off",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                base_env,
                inventory_port,
                "/healthz",
            )
        )
        services.append(
            Service(
                "inventory delay",
                [
                    sys.executable,
                    "scripts/delay_proxy.py",
                    "--port",
                    str(inventory_proxy_port),
                    "--target",
                    services[2].url,
                    "--delay",
                    str(args.delay),
                ],
                base_env,
                inventory_proxy_port,
                "/healthz",
            )
        )
        shop_env = {
            **base_env,
            "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_proxy_port}",
            "INVENTORY_API_URL": f"http://127.0.0.1:{inventory_proxy_port}/inventory/v1",
        }
        servers = {
            "ASGI uvicorn": lambda port, env: [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--lifespan",
                "off",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            "WSGI gunicorn gthread": lambda port, env: [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                "8",
                "--log-level",
                "warning",
            ],
            "WSGI gunicorn sync": lambda port, env: [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "-k",
                "sync",
                "--log-level",
                "warning",
                "--timeout",
                "60",
            ],
        }
        for server_name, command in servers.items():
            port = free_port()
            say(f"Starting {server_name} ({args.workers} process{'es' if args.workers > 1 else ''})")
            shop = Service(server_name, command(port, shop_env), shop_env, port, "/healthz")
            add_to_cart, place_order, webhook = flows(shop.url, "whsec_bench", variant_ids)
            try:
                targets = dict(pages)
                if server_name.startswith("ASGI"):
                    targets["ceiling: bare async view"] = "/bench/ping"
                for what, path in targets.items():
                    for level in levels:
                        result = with_cpu(shop, services, wrk, shop.url + path, level, duration)
                        rows.append({"server": server_name, "what": what, "concurrency": level, **result})
                        say(
                            f"{server_name:22} {what:26} c{level:<4} {result['rps']:8.1f} req/s p50 "
                            f"{result['p50']:.1f} ms"
                        )
                for level in levels:
                    shoppers = prepare_shoppers(level, with_cart=False)
                    result = with_cpu(
                        shop, services, asyncio.run, drive(add_to_cart(shoppers), level, duration)
                    )
                    rows.append(
                        {"server": server_name, "what": "add to cart", "concurrency": level, **result}
                    )
                    say(
                        f"{server_name:22} {'add to cart':26} c{level:<4} {result['rps']:8.1f} req/s "
                        f"errors {result['errors']} {result.get('sample_errors', '')}"
                    )
                for level in sorted({8, *levels}):
                    shoppers = prepare_shoppers(max(400, level * 12), with_cart=True)
                    result = with_cpu(
                        shop,
                        services,
                        asyncio.run,
                        drive(place_order(shoppers), level, duration, limit=len(shoppers)),
                    )
                    rows.append(
                        {"server": server_name, "what": "place order", "concurrency": level, **result}
                    )
                    say(
                        f"{server_name:22} {'place order':26} c{level:<4} {result['rps']:8.1f} req/s p50 "
                        f"{result['p50']:.1f} ms errors {result['errors']} {result.get('sample_errors', '')}"
                    )
                for level in levels:
                    result = with_cpu(shop, services, asyncio.run, drive(webhook, level, duration))
                    rows.append(
                        {"server": server_name, "what": "webhook ingest", "concurrency": level, **result}
                    )
                if server_name.startswith("ASGI"):
                    rows.append(
                        {
                            "server": server_name,
                            "what": "worker RSS after load (MB)",
                            "concurrency": 0,
                            "rps": round(shop.rss_mb(), 1),
                        }
                    )
                    slowest = min(
                        (r for r in rows if r["server"] == server_name and r["what"] in pages),
                        key=lambda r: r["rps"],
                    )
                    say(f"Profiling the slowest page: {slowest['what']}")
                    profile_lines = [
                        f"profile of {slowest['what']} under ASGI (share of busy samples, inclusive):",
                        *profile(shop, shop.url + pages[slowest["what"]]),
                    ]
            finally:
                shop.stop()
        port = free_port()
        sequential_env = {**shop_env, "CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS": "true"}
        shop = Service(
            "ASGI sequential calls",
            servers["ASGI uvicorn"](port, sequential_env),
            sequential_env,
            port,
            "/healthz",
        )
        try:
            _a, place_order, _w = flows(shop.url, "whsec_bench", variant_ids)
            shoppers = prepare_shoppers(400, with_cart=True)
            result = with_cpu(
                shop, services, asyncio.run, drive(place_order(shoppers), 8, duration, limit=len(shoppers))
            )
            rows.append(
                {
                    "server": "ASGI uvicorn, outside calls one after the other",
                    "what": "place order",
                    "concurrency": 8,
                    **result,
                }
            )
        finally:
            shop.stop()
    finally:
        for service in reversed(services):
            service.stop()
        shutil.rmtree(static_root, ignore_errors=True)
    write_results(rows, profile_lines, args)


def find(rows, server, what, level):
    for row in rows:
        if row["server"] == server and row["what"] == what and row["concurrency"] == level:
            return row
    return None


def write_results(rows: list[dict], profile_lines: list[str], args) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(
        json.dumps({"args": vars(args), "cores": os.cpu_count(), "rows": rows}, indent=2)
    )
    lines = [
        f"Machine: {os.cpu_count()} cores; {args.workers} server process(es); outside calls delayed "
        f"{args.delay * 1000:.0f} ms; wrk/driver {args.duration} s per cell.",
        "",
        "Shop CPU and outside CPU: milliseconds of CPU a request cost the shop's processes and the",
        "outside stand-ins (localstripe, the inventory service, the delay proxies).",
        "",
        "| server | what | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | shop CPU ms "
        "| outside CPU ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if "p50" in row:
            lines.append(
                f"| {row['server']} | {row['what']} | {row['concurrency']} | {row['rps']} | {row['p50']} | "
                f"{row['p95']} | {row['p99']} | {row['errors']} | {row.get('shop_cpu_ms', '')} | "
                f"{row.get('outside_cpu_ms', '')} |"
            )
        else:
            lines.append(f"| {row['server']} | {row['what']} | | {row['rps']} | | | | | | |")
    lines += ["", "Ratios:"]
    levels = sorted({row["concurrency"] for row in rows if row["what"] == "home"})
    for level in levels:
        ceiling = find(rows, "ASGI uvicorn", "ceiling: bare async view", level)
        listing = find(rows, "ASGI uvicorn", "category listing", level)
        wsgi = find(rows, "WSGI gunicorn gthread", "category listing", level)
        if ceiling and listing and wsgi:
            lines.append(
                f"- c{level}: category listing is {listing['rps'] / ceiling['rps']:.0%} of the bare async "
                f"view; ASGI/WSGI gthread = {listing['rps'] / wsgi['rps']:.2f}×"
            )
    for level in sorted({row["concurrency"] for row in rows if row["what"] == "place order"}):
        asgi = find(rows, "ASGI uvicorn", "place order", level)
        gthread = find(rows, "WSGI gunicorn gthread", "place order", level)
        sync = find(rows, "WSGI gunicorn sync", "place order", level)
        if asgi and gthread and sync:
            ratio = asgi["rps"] / max(gthread["rps"], 0.1)
            lines.append(
                f"- place order c{level}: ASGI {asgi['rps']} req/s = {ratio:.1f}× "
                f"gthread, {asgi['rps'] / max(sync['rps'], 0.1):.1f}× sync; p50 {asgi['p50']} ms vs "
                f"{args.delay * 1000:.0f} ms outside delay"
            )
    sequential = find(rows, "ASGI uvicorn, outside calls one after the other", "place order", 8)
    concurrent = find(rows, "ASGI uvicorn", "place order", 8)
    if sequential and concurrent:
        lines.append(
            f"- place order c8: concurrent calls p50 {concurrent['p50']} ms / p99 {concurrent['p99']} ms; "
            f"one after the other p50 {sequential['p50']} ms / p99 {sequential['p99']} ms"
        )
    if profile_lines:
        lines += ["", "```", *profile_lines, "```"]
    text = "\n".join(lines) + "\n"
    (RESULTS / "results.md").write_text(text)
    print("\n" + text)
    say(f"Results written to {RESULTS.relative_to(ROOT)}/results.json and results.md")


if __name__ == "__main__":
    main()
