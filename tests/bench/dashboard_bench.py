"""Staff dashboard home under a large order history, on loopback (not part of the test suite).

    .venv/bin/python tests/bench/dashboard_bench.py [--orders 1000000] [--requests 200] [--concurrency 4]
        [--database shop_bench_dashboard] [--keep]

Makes a dedicated database (named by --database) on the PostgreSQL server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/...), migrates it, loads
the demo catalogue (2,000 products) and seeds --orders orders with set-based SQL:
created over the last 730 days, ~92% paid (each with a succeeded payment), the
most recent ~2% still awaiting fulfilment, ~2.5% refunded in full or in part,
~3% canceled, ~5% awaiting payment, ~0.2% flagged; plus a few hundred webhook
events. Each order's lifecycle, payment and fulfilment states are set as migration
checkout 0007 carries an old single status over; its prices include VAT at 20 %
(subtotal and delivery stored net, with one checkout_ordertax row for the rate),
and each refund carries its share of the order's VAT. No order lines or stock
reservations are seeded: the dashboard home reads neither.

Then it runs the shop as in production (DEBUG off, connection pool on,
one uvicorn worker), signs in a staff user through a session made directly in
the database, and measures GET /dashboard/:

* --requests requests at --concurrency: requests/s and latency percentiles;
* 50 requests one at a time: the single-request latency;
* EXPLAIN (ANALYZE, BUFFERS) of the dashboard's main queries, run directly, to
  show which one dominates;
* the view rendered in this process (no HTTP) with its SQL captured: its time
  against the time of its queries, and each captured query EXPLAINed again.

With --keep the database is left in place and reused by the next run if it
holds the same number of orders (seeded less than a day before); without it the
database is dropped at the end. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers import ShopProcess  # noqa: E402

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/shop"
BATCH = 100_000
MARKER = "dashboard_bench: {orders} orders seeded at {at}"
WEBHOOK_EVENTS = 300
STAFF_USERNAME = "bench-staff"
LONDON = ZoneInfo("Europe/London")

# Every column of the seeded tables is set explicitly: Django's field defaults
# are not database defaults. check_columns() makes sure nothing NOT NULL is missed.
ORDER_COLUMNS = [
    "id",
    "number",
    "public_token",
    "checkout_key",
    "user_id",
    "email",
    "status",
    "payment_status",
    "fulfilment_status",
    "cancel_reason",
    "full_name",
    "line1",
    "line2",
    "city",
    "postcode",
    "country",
    "phone",
    "shipping_method_code",
    "shipping_method_name",
    "currency",
    "prices_include_tax",
    "subtotal",
    "shipping_total",
    "shipping_tax",
    "tax_name",
    "tax_total",
    "total",
    "reservation_id",
    "reservation_expires_at",
    "stock_committed_at",
    "is_flagged",
    "flag_reason",
    "created_at",
    "updated_at",
    "paid_at",
    "canceled_at",
    "confirmation_sent_at",
    "fulfilled_at",
    "carrier",
    "tracking_number",
    "shipping_notice_sent_at",
]

# Orders 1..N (numbered NW100001.. as checkout_order_number_seq numbers them, which the
# order links' path converter accepts) are created in id order over the last 730 days;
# the newest 2% of those paid and neither refunded nor canceled still await fulfilment.
# Each gets one of the old single statuses (`history`), turned into its three states
# as migration checkout 0007 does: pending_payment -> open/awaiting/unfulfilled,
# paid -> open/paid/unfulfilled, fulfilled -> closed/paid/fulfilled, canceled (never
# paid) -> canceled/voided/unfulfilled, refunded (not shipped) -> closed/refunded/
# unfulfilled, partially_refunded (shipped) -> closed/partially_refunded/fulfilled.
# Prices include VAT at 20 %: the goods and the delivery each carry round(gross / 6)
# of tax (halves up, as taxes.calc rounds), and are stored net of it.
ORDERS_SQL = f"""
INSERT INTO checkout_order ({", ".join(ORDER_COLUMNS)})
SELECT
    i, 'NW' || (100000 + i), md5(i::text), 'bench-' || i, NULL, 'buyer' || (i %% 50000) || '@example.com',
    CASE WHEN history = 'canceled' THEN 'canceled'
         WHEN fulfilled_at IS NOT NULL OR history = 'refunded' THEN 'closed'
         ELSE 'open' END,
    CASE history WHEN 'pending_payment' THEN 'awaiting'
                 WHEN 'canceled' THEN 'voided'
                 WHEN 'refunded' THEN 'refunded'
                 WHEN 'partially_refunded' THEN 'partially_refunded'
                 ELSE 'paid' END,
    CASE WHEN fulfilled_at IS NULL THEN 'unfulfilled' ELSE 'fulfilled' END,
    CASE WHEN history = 'canceled' THEN 'Payment not completed in time' ELSE '' END,
    'Bench Buyer ' || (i %% 50000), (1 + i %% 240) || ' High Street', '',
    (ARRAY['London', 'Leeds', 'Bristol', 'Manchester', 'Glasgow', 'Cardiff', 'Norwich', 'York'])
        [1 + i %% 8],
    (ARRAY['SW1A 1AA', 'LS1 4AP', 'BS1 5TR', 'M1 1AE', 'G1 1XQ', 'CF10 1EP', 'NR2 1NH', 'YO1 7HH'])
        [1 + i %% 8],
    'GB', '',
    'standard', 'Standard delivery', 'GBP', true,
    goods_gross - goods_tax, shipping_gross - shipping_tax, shipping_tax, 'VAT',
    goods_tax + shipping_tax, goods_gross + shipping_gross,
    '', NULL, paid_at,
    is_flagged,
    CASE WHEN is_flagged THEN (ARRAY[
        'Amount paid differs from the order total',
        'Paid after the stock reservation expired: no stock held',
        'Payment disputed by the card holder'
    ])[1 + i %% 3] ELSE '' END,
    created_at, coalesce(fulfilled_at, canceled_at, paid_at, created_at), paid_at, canceled_at,
    paid_at + interval '20 seconds', fulfilled_at,
    CASE WHEN fulfilled_at IS NULL THEN '' ELSE 'Royal Mail' END,
    CASE WHEN fulfilled_at IS NULL THEN '' ELSE 'RM' || lpad(i::text, 9, '0') || 'GB' END,
    fulfilled_at + interval '1 minute'
FROM (
    SELECT
        i, history, created_at, is_flagged, goods_gross, shipping_gross,
        (goods_gross + 3) / 6 AS goods_tax,
        (shipping_gross + 3) / 6 AS shipping_tax,
        CASE WHEN history IN ('pending_payment', 'canceled') THEN NULL
             ELSE created_at + make_interval(secs => 60 + r_pay * 540) END AS paid_at,
        CASE WHEN history = 'canceled' THEN least(created_at + interval '30 minutes', now()) END
            AS canceled_at,
        CASE WHEN history IN ('fulfilled', 'partially_refunded')
             THEN created_at + make_interval(secs => 600 + 43200 + r_pay * 172800) END AS fulfilled_at
    FROM (
        SELECT
            i, r_pay, created_at, r_flag < 0.002 AS is_flagged,
            CASE WHEN r_status < 0.05 THEN 'pending_payment'
                 WHEN r_status < 0.08 THEN 'canceled'
                 WHEN r_status < 0.095 THEN 'refunded'
                 WHEN r_status < 0.105 THEN 'partially_refunded'
                 WHEN i > %(awaiting_from)s::bigint THEN 'paid'
                 ELSE 'fulfilled' END AS history,
            1200 + floor(r_amount * 34801)::bigint AS goods_gross,
            CASE WHEN r_amount < 0.15 THEN 495 ELSE 0 END AS shipping_gross
        FROM (
            SELECT
                i, random() AS r_status, random() AS r_amount, random() AS r_pay, random() AS r_flag,
                now() - make_interval(
                    secs => 730 * 86400 * (%(orders)s::bigint - i)::float8 / %(orders)s::bigint
                        + 600 + random() * 60
                ) AS created_at
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
        ) AS raw
    ) AS typed
) AS timed
"""

ORDER_TAX_COLUMNS = ["id", "order_id", "rate", "net", "tax"]

# The order's tax at its one rate, on its net goods and delivery together.
ORDER_TAXES_SQL = f"""
INSERT INTO checkout_ordertax ({", ".join(ORDER_TAX_COLUMNS)})
SELECT id, id, 20, subtotal + shipping_total, tax_total
FROM checkout_order
WHERE id BETWEEN %(first)s AND %(last)s
"""

PAYMENT_COLUMNS = [
    "id",
    "order_id",
    "attempt",
    "payment_intent_id",
    "customer_id",
    "setup_intent_id",
    "amount",
    "amount_received",
    "currency",
    "status",
    "last_error",
    "confirmed_at",
    "created_at",
    "updated_at",
]

# One succeeded payment per paid order; an order still awaiting payment has its
# first attempt waiting for a card, as the checkout leaves it.
PAYMENTS_SQL = f"""
INSERT INTO checkout_payment ({", ".join(PAYMENT_COLUMNS)})
SELECT
    id, id, 1, 'pi_bench_' || id, '', '', total, CASE WHEN paid_at IS NULL THEN 0 ELSE total END, currency,
    CASE WHEN paid_at IS NULL THEN 'requires_payment_method' ELSE 'succeeded' END, '',
    paid_at - interval '20 seconds', created_at, coalesce(paid_at, created_at)
FROM checkout_order
WHERE id BETWEEN %(first)s AND %(last)s AND (paid_at IS NOT NULL OR payment_status = 'awaiting')
"""

REFUND_COLUMNS = [
    "id",
    "order_id",
    "payment_id",
    "stripe_refund_id",
    "request_key",
    "amount",
    "tax",
    "currency",
    "status",
    "reason",
    "created_by_id",
    "created_at",
]

# One refund per refunded order: all of it, or a quarter of a partly refunded one, with
# its share of the order's VAT (amount * tax_total / total, halves up; all of it in full).
REFUNDS_SQL = f"""
INSERT INTO checkout_refund ({", ".join(REFUND_COLUMNS)})
SELECT
    id, id, id, 're_bench_' || id, NULL,
    amount, (2 * amount * tax_total + total) / (2 * total),
    currency, 'succeeded', '', NULL,
    least(paid_at + make_interval(days => 1 + (id %% 14)::int), now())
FROM (
    SELECT
        id, total, tax_total, currency, paid_at,
        CASE WHEN payment_status = 'refunded' THEN total ELSE greatest(1, total / 4) END AS amount
    FROM checkout_order
    WHERE id BETWEEN %(first)s AND %(last)s AND payment_status IN ('refunded', 'partially_refunded')
) AS refunded
"""

WEBHOOK_COLUMNS = [
    "stripe_event_id",
    "type",
    "payload",
    "received_at",
    "processing_started_at",
    "processed_at",
    "attempts",
    "outcome",
    "error",
]

# One event every 10 minutes over the last ~2 days; every 12th failed.
WEBHOOKS_SQL = f"""
INSERT INTO checkout_webhookevent ({", ".join(WEBHOOK_COLUMNS)})
SELECT
    'evt_bench_' || i, type,
    jsonb_build_object(
        'id', 'evt_bench_' || i, 'object', 'event', 'type', type,
        'created', extract(epoch FROM received_at)::bigint,
        'data', jsonb_build_object('object', jsonb_build_object('id', 'pi_bench_' || i, 'object', 'x'))
    ),
    received_at, received_at,
    CASE WHEN failed THEN NULL ELSE received_at + interval '40 milliseconds' END,
    CASE WHEN failed THEN 3 ELSE 1 END,
    CASE WHEN failed THEN '' ELSE 'applied' END,
    CASE WHEN failed THEN 'InventoryError: the inventory API did not answer within 5.0 s' ELSE '' END
FROM (
    SELECT
        i, i %% 12 = 0 AS failed,
        (ARRAY['payment_intent.succeeded', 'payment_intent.payment_failed', 'charge.refunded',
               'charge.dispute.created'])[1 + i %% 4] AS type,
        now() - make_interval(secs => (%(count)s - i) * 600 + 5) AS received_at
    FROM generate_series(1, %(count)s::int) AS i
) AS events
"""

SEEDED_COLUMNS = {
    "checkout_order": ORDER_COLUMNS,
    "checkout_ordertax": ORDER_TAX_COLUMNS,
    "checkout_payment": PAYMENT_COLUMNS,
    "checkout_refund": REFUND_COLUMNS,
    "checkout_webhookevent": WEBHOOK_COLUMNS,
}

# Paid (or partly refunded), open and not all shipped: dashboard.selectors.WAITING_TO_SHIP,
# which the partial index order_awaiting_fulfilment matches.
WAITING_TO_SHIP = (
    "status = 'open' AND payment_status IN ('paid', 'partially_refunded') "
    "AND fulfilment_status IN ('unfulfilled', 'partially_fulfilled')"
)

# The dashboard's main reads, as the app sends them: periods start at local midnight
# (today, 6 and 29 days before), passed as literal timestamps. "(1) with now()" is
# the same aggregate with `now() - interval` in each FILTER, which PostgreSQL
# evaluates again for every row.
EXPLAINED = [
    (
        "(1) sales today / 7 / 30 days",
        """SELECT
            sum(total) FILTER (WHERE paid_at >= %(today)s),
            count(paid_at) FILTER (WHERE paid_at >= %(today)s),
            sum(total) FILTER (WHERE paid_at >= %(week)s),
            count(paid_at) FILTER (WHERE paid_at >= %(week)s),
            sum(total), count(paid_at)
        FROM checkout_order WHERE paid_at >= %(month)s""",
    ),
    (
        "(1) with now() - interval",
        """SELECT
            sum(total) FILTER (WHERE paid_at >= now() - interval '1 day'),
            count(paid_at) FILTER (WHERE paid_at >= now() - interval '1 day'),
            sum(total) FILTER (WHERE paid_at >= now() - interval '7 days'),
            count(paid_at) FILTER (WHERE paid_at >= now() - interval '7 days'),
            sum(total), count(paid_at)
        FROM checkout_order WHERE paid_at >= now() - interval '30 days'""",
    ),
    (
        "(1b) refunds today / 7 / 30 days",
        """SELECT
            sum(amount) FILTER (WHERE created_at >= %(today)s),
            sum(amount) FILTER (WHERE created_at >= %(week)s),
            sum(amount), count(*)
        FROM checkout_refund WHERE created_at >= %(month)s AND status IN ('pending', 'succeeded')""",
    ),
    (
        "(2) revenue per day, 30 days",
        """SELECT (paid_at AT TIME ZONE 'Europe/London')::date AS day, sum(total), count(paid_at)
        FROM checkout_order WHERE paid_at >= %(month)s
        GROUP BY 1 ORDER BY 1""",
    ),
    (
        "(3) awaiting fulfilment, oldest 20",
        f"""SELECT id, number, email, total, paid_at FROM checkout_order
        WHERE {WAITING_TO_SHIP} ORDER BY paid_at LIMIT 20""",
    ),
    ("(3b) awaiting fulfilment, count", f"SELECT count(*) FROM checkout_order WHERE {WAITING_TO_SHIP}"),
    (
        "(4) flagged, newest 20",
        """SELECT id, number, email, total, flag_reason, created_at FROM checkout_order
        WHERE is_flagged ORDER BY created_at DESC LIMIT 20""",
    ),
    ("(4b) flagged, count", "SELECT count(*) FROM checkout_order WHERE is_flagged"),
    (
        "(5) out of stock, count",
        """SELECT count(*) FROM catalog_stock JOIN catalog_variant ON catalog_variant.id = variant_id
        WHERE on_hand - allocated <= 0 AND catalog_variant.is_active""",
    ),
    (
        "(6) recent webhook events, 15",
        """SELECT id, type, received_at, error FROM checkout_webhookevent
        ORDER BY received_at DESC LIMIT 15""",
    ),
]


def period_starts() -> dict[str, datetime]:
    """Local midnight today, 6 days and 29 days before, as the dashboard counts its periods."""
    today = datetime.now(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": today, "week": today - timedelta(days=6), "month": today - timedelta(days=29)}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def manage(*args: str, database_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.test_settings")
    env.pop("DEBUG", None)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, timeout=1800
    )


def seeded_marker(admin_url: str, name: str) -> str | None:
    """Return the database's comment when it exists (None when it does not exist)."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        row = connection.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return None if row is None else row[0]


def reusable(marker: str | None, orders: int) -> bool:
    if not marker:
        return False
    match = re.fullmatch(r"dashboard_bench: (\d+) orders seeded at ([\d.]+)", marker)
    return bool(match and int(match[1]) == orders and time.time() - float(match[2]) < 86400)


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def check_columns(connection: psycopg.Connection) -> None:
    """Fail early and clearly if a migration added a NOT NULL column the INSERTs do not set."""
    for table, columns in SEEDED_COLUMNS.items():
        required = {
            column
            for (column,) in connection.execute(
                """SELECT column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = %s AND is_nullable = 'NO'
                AND column_default IS NULL AND is_identity = 'NO' AND is_generated = 'NEVER'""",
                [table],
            )
        }
        missing = required - set(columns)
        if missing:
            raise SystemExit(f"{table} has NOT NULL columns the bench does not set: {sorted(missing)}")


def seed(database_url: str, orders: int) -> None:
    tables = ["checkout_order", "checkout_ordertax", "checkout_payment", "checkout_refund"]
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        check_columns(connection)
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '256MB'")
        # Autovacuum would analyse the growing tables again and again during the load.
        for table in tables:
            connection.execute(
                sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = off)").format(sql.Identifier(table))
            )
        awaiting_from = orders - max(1, orders // 50)
        started = time.monotonic()
        for first in range(1, orders + 1, BATCH):
            bounds = {"first": first, "last": min(orders, first + BATCH - 1)}
            with connection.transaction():
                connection.execute(ORDERS_SQL, {**bounds, "orders": orders, "awaiting_from": awaiting_from})
                connection.execute(ORDER_TAXES_SQL, bounds)
                connection.execute(PAYMENTS_SQL, bounds)
                connection.execute(REFUNDS_SQL, bounds)
            print(
                f"    {bounds['last']:>9,} / {orders:,} orders ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        connection.execute(WEBHOOKS_SQL, {"count": WEBHOOK_EVENTS})
        connection.execute("SELECT setval('checkout_order_number_seq', 100000 + %s::bigint)", [orders])
        for table in tables:
            connection.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            )
            connection.execute(
                sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(sql.Identifier(table))
            )
        say("VACUUM ANALYZE")
        connection.execute("VACUUM ANALYZE")
        # Index-only scans need the visibility map set; a transaction held open elsewhere
        # on the server can stop VACUUM from setting it, so try again for a while.
        for _ in range(12):
            pages, visible = connection.execute(
                "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'checkout_order'::regclass"
            ).fetchone()
            if visible >= 0.99 * pages:
                break
            say(f"Only {visible:,} of {pages:,} order pages all-visible; VACUUM again in 5 s")
            time.sleep(5)
            connection.execute("VACUUM checkout_order, checkout_ordertax, checkout_payment, checkout_refund")


def describe(connection: psycopg.Connection) -> str:
    counts = connection.execute(
        """SELECT status, payment_status, fulfilment_status, count(*) FROM checkout_order
        GROUP BY 1, 2, 3 ORDER BY count(*) DESC"""
    ).fetchall()
    flagged = connection.execute("SELECT count(*) FROM checkout_order WHERE is_flagged").fetchone()[0]
    states = ", ".join(f"{status}/{paid}/{shipped} {count:,}" for status, paid, shipped, count in counts)
    return f"{states}; flagged {flagged:,}"


def staff_session(database_url: str) -> str:
    """Create a staff superuser and a signed-in session for it; return the session key."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
    os.environ.pop("DEBUG", None)
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=STAFF_USERNAME, defaults={"email": "bench-staff@example.com"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(secrets.token_urlsafe(24))
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    connections.close_all()
    return session.session_key


async def hammer(url: str, cookie: str, count: int, concurrency: int) -> tuple[list[float], Counter, float]:
    """GET `url` `count` times, `concurrency` at a time; return latencies, failures by kind, elapsed."""
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: Counter = Counter()

    async def one(client: httpx.AsyncClient) -> None:
        async with limit:
            started = time.perf_counter()
            try:
                response = await client.get(url)
            except httpx.HTTPError as error:
                failures[type(error).__name__] += 1
                return
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                where = response.headers.get("location", "")
                failures[f"HTTP {response.status_code}" + (f" to {where}" if where else "")] += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(
        timeout=30,
        headers={"Cookie": f"sessionid={cookie}"},
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    return latencies, failures, time.perf_counter() - started


def explain(connection: psycopg.Connection, query: str) -> tuple[float, str]:
    """Return the execution time in ms and the scans of the plan, one line each, joined."""
    lines = [row[0] for row in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}")]
    execution = next(float(line.split(":")[1].split()[0]) for line in lines if "Execution Time" in line)
    scans = []
    for index, line in enumerate(lines):
        text = line.strip().removeprefix("->").strip()
        if "Scan" not in text or text.startswith(("Index Cond", "Filter", "Buffers")):
            continue
        node, _, timing = text.partition("  (")
        rows = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+)", timing)
        details = [f"{rows[2]} rows, {rows[1]} ms"] if rows else []
        for later in lines[index + 1 :]:
            if "->" in later:
                break
            if "Heap Fetches" in later or "Rows Removed" in later:
                details.append(later.strip())
        scans.append(node + (f" ({', '.join(details)})" if details else ""))
    return execution, "; ".join(scans)


def explain_rows(database_url: str, queries: list[tuple[str, str]]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) each (name, literal SQL) once, then 3 more times; one table row each."""
    rows = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        for name, query in queries:
            first, _ = explain(connection, query)
            best, plan = min(explain(connection, query) for _ in range(3))
            rows.append(f"| {name} | {first:.1f} | {best:.1f} | {plan} |")
    return rows


def explained_queries(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        cursor = psycopg.ClientCursor(connection)
        starts = period_starts()
        return [(name, cursor.mogrify(query, starts)) for name, query in EXPLAINED]


def profile_view(runs: int = 5) -> tuple[list[float], list[tuple[float, str]]]:
    """Render GET /dashboard/ in this process (no HTTP, no middleware) as the staff user.

    Return the times of `runs` renders after one warm-up, and (seconds, SQL) of each
    query of the last render, so the database's share of a response can be told
    from the Python side (ORM, template).
    """
    from asgiref.sync import async_to_sync, iscoroutinefunction
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection, connections
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.urls import resolve

    user = get_user_model().objects.get(username=STAFF_USERNAME)
    view = resolve("/dashboard/").func
    call = async_to_sync(view) if iscoroutinefunction(view) else view

    def render_once() -> float:
        request = RequestFactory().get("/dashboard/")
        request.user = user
        request.session = SessionStore()
        started = time.perf_counter()
        response = call(request)
        if hasattr(response, "render"):
            response.render()
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"the dashboard view answered {response.status_code} in process")
        return elapsed

    render_once()
    times = [render_once() for _ in range(runs - 1)]
    with CaptureQueriesContext(connection) as captured:
        times.append(render_once())
    connections.close_all()
    return times, [(float(query["time"]), query["sql"]) for query in captured.captured_queries]


def short_sql(text: str, width: int = 110) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", text)
    return (text[: width - 1] + "…" if len(text) > width else text).replace("|", "\\|")


def latency_row(latencies: list[float], failures: Counter, elapsed: float, concurrency: int) -> str:
    count = len(latencies) + sum(failures.values())
    if not latencies:
        return f"| {count} | {concurrency} | - | - | - | - | {sum(failures.values())} |"
    return (
        f"| {count} | {concurrency} | {count / elapsed:.1f} | {statistics.median(latencies) * 1000:.1f} | "
        f"{percentile(latencies, 0.95) * 1000:.1f} | {percentile(latencies, 0.99) * 1000:.1f} | "
        f"{sum(failures.values())} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database", default="shop_bench_dashboard")
    parser.add_argument("--keep", action="store_true", help="leave the database in place for the next run")
    args = parser.parse_args()
    if args.orders < 1 or args.requests < 1 or args.concurrency < 1:
        parser.error("--orders, --requests and --concurrency must be positive")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database) or args.database in {"postgres", "shop"}:
        parser.error("--database must be a plain lower-case name of a dedicated database")

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL
    admin_url = with_database(server_url, "postgres")
    database_url = with_database(server_url, args.database)
    seeding_seconds = None

    try:
        if reusable(seeded_marker(admin_url, args.database), args.orders):
            say(f"Reusing database {args.database} ({args.orders:,} orders already seeded)")
            manage("migrate", "--noinput", "-v", "0", database_url=database_url)
        else:
            say(f"Creating database {args.database}")
            recreate_database(admin_url, args.database)
            started = time.monotonic()
            say("Migrating")
            manage("migrate", "--noinput", "-v", "0", database_url=database_url)
            say("Loading the demo catalogue (2,000 products)")
            manage("seed_demo", "--products", "2000", "-v", "0", database_url=database_url)
            catalogue_seconds = time.monotonic() - started
            say(f"Seeding {args.orders:,} orders with set-based SQL")
            started = time.monotonic()
            seed(database_url, args.orders)
            seeding_seconds = time.monotonic() - started
            say(
                f"Seeded {args.orders:,} orders in {seeding_seconds:.0f} s "
                f"(migrate and catalogue before that: {catalogue_seconds:.0f} s)"
            )
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
                connection.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(args.database),
                        sql.Literal(MARKER.format(orders=args.orders, at=f"{time.time():.0f}")),
                    )
                )

        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
            in_database = connection.execute("SELECT count(*) FROM checkout_order").fetchone()[0]
            size = connection.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"
            ).fetchone()[0]
            say(f"Orders: {describe(connection)}; database size {size}")

        cookie = staff_session(database_url)
        shop = ShopProcess(database_url=database_url, env={"LOG_LEVEL": "WARNING"})
        try:
            url = f"{shop.url}/dashboard/"
            say(f"Warming up: 10 requests to {url}")
            _, warm_failures, _ = asyncio.run(hammer(url, cookie, 10, 1))
            if warm_failures:
                say(f"Warm-up did not get 200 every time: {dict(warm_failures)}")
            say(f"Timing {args.requests} requests at concurrency {args.concurrency}")
            loaded = asyncio.run(hammer(url, cookie, args.requests, args.concurrency))
            say("Timing 50 requests one at a time")
            single = asyncio.run(hammer(url, cookie, 50, 1))
        finally:
            shop.stop()

        say("Rendering the dashboard in process to capture its SQL")
        try:
            view_times, captured = profile_view()
        except Exception as error:  # the view is someone else's work in progress: report, go on
            say(f"Could not render the dashboard in process: {type(error).__name__}: {error}")
            view_times, captured = [], []
        say("EXPLAIN (ANALYZE, BUFFERS) of the dashboard's queries")
        plans = explain_rows(database_url, explained_queries(database_url))
        captured_plans = explain_rows(
            database_url,
            [
                (f"{index}. {short_sql(text)} ({seconds * 1000:.1f} ms in Django)", text)
                for index, (seconds, text) in enumerate(captured, 1)
                if text.lstrip().upper().startswith("SELECT")
            ],
        )
    finally:
        if not args.keep:
            say(f"Dropping database {args.database}")
            drop_database(admin_url, args.database)

    seeded = f"seeded in {seeding_seconds:.0f} s" if seeding_seconds is not None else "reused from --keep"
    print(
        f"\nGET /dashboard/ as a staff user: one uvicorn worker, {os.cpu_count()} cores, "
        f"database {args.database} ({seeded}, {size})\n"
    )
    print("| orders in the database | requests | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {in_database:,} " + latency_row(*loaded, args.concurrency))
    print("\nSingle request (one at a time):\n")
    print("| requests | p50 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- |")
    latencies, failures, _ = single
    if latencies:
        print(
            f"| {len(latencies) + sum(failures.values())} | {statistics.median(latencies) * 1000:.1f} | "
            f"{percentile(latencies, 0.99) * 1000:.1f} | {sum(failures.values())} |"
        )
    else:
        print(f"| {sum(failures.values())} | - | - | {sum(failures.values())} |")
    errors = loaded[1] + single[1]
    if errors:
        print(f"\nErrors: {dict(errors)}")
    print("\nEXPLAIN (ANALYZE, BUFFERS), run directly with psycopg (Execution Time, ms):\n")
    print("| query | first run | best of next 3 | scans |")
    print("| --- | --- | --- | --- |")
    print("\n".join(plans))
    if view_times:
        sql_ms = sum(seconds for seconds, _ in captured) * 1000
        print(
            f"\nThe view rendered in process (no HTTP, no middleware): median "
            f"{statistics.median(view_times) * 1000:.1f} ms over {len(view_times)} renders; the last "
            f"made {len(captured)} queries taking {sql_ms:.1f} ms as Django timed them. Each, run again:\n"
        )
        print("| query the view made | first run | best of next 3 | scans |")
        print("| --- | --- | --- | --- |")
        print("\n".join(captured_plans))


if __name__ == "__main__":
    main()
