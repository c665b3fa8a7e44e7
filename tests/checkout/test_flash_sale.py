"""A flash sale: 500 shoppers, each in their own browser session, race for 10 units.

The shop runs as two uvicorn worker processes on the test database (connection pool
on), the inventory API is the shop's own, Stripe is localstripe and delivers its
webhooks to the shop. Every buyer browses, adds to the cart and opens the checkout;
when all are ready they place their orders at once; the winners pay the way the
payment page's script does. Nobody may be oversold, charged for nothing, or shown
a server error.
"""

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.db.models import Sum
from django_tasks_db.models import DBTaskResult

from checkout.emails import send_order_confirmation
from checkout.models import Order, OrderLine, Payment, WebhookEvent
from checkout.webhooks import HANDLERS
from inventory.models import Reservation, Stock
from tests.audit import assert_audit_clean
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory
from tests.helpers import _test_database_url, list_payment_intents
from tests.servers import ShopProcess

BUYERS = 500
UNITS = 10
SALE_DEADLINE = 120.0  # seconds for every buyer's whole visit
WEBHOOK_DEADLINE = 30.0  # seconds for localstripe's events to be applied afterwards
WEBHOOK_ID = "flash-sale"
WEBHOOK_SECRET = "whsec_test_suite"
GOOD_CARD = "4242424242424242"
TITLE = "Flash Lantern"
SOLD_OUT = f"Sorry — {TITLE} has just sold out. Nothing was charged; please update your cart and try again."

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CART_VERSION_INPUT = re.compile(r'name="cart_version" value="(\d+)"')
QUOTE_INPUT = re.compile(r'name="quote" value="([^"]+)"')
PAY_PATH = re.compile(r"^/order/([\w-]+)/pay/$")


def _set_webhook(stripe_url: str, *, shop_url: str, events: list[str]) -> None:
    """Point localstripe's events of the given types at the shop (no types: deliver nothing)."""
    httpx.post(
        f"{stripe_url}/_config/webhooks/{WEBHOOK_ID}",
        json={"url": f"{shop_url}/webhooks/stripe/", "secret": WEBHOOK_SECRET, "events": events},
        timeout=5,
    ).raise_for_status()


@pytest.fixture
def flash_shop(outside, localstripe):
    """The shop as two worker processes, with localstripe delivering the events it handles."""
    server = ShopProcess(
        database_url=_test_database_url(),
        workers=2,
        env={
            "STRIPE_API_BASE": localstripe.url,
            "STRIPE_JS_URL": f"{localstripe.url}/js.stripe.com/v3/",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_TIMEOUT": "30",
            "INVENTORY_API_TIMEOUT": "30",
            "LOG_LEVEL": "ERROR",  # not 490 "order placement failed: out of stock" lines
            # Every buyer here comes from 127.0.0.1: limits stay on (counted), but high.
            "RATE_LIMIT_PLACE_ORDER": f"{BUYERS * 10}/h",
            "RATE_LIMIT_LOGIN": f"{BUYERS * 10}/h",
        },
    )
    _set_webhook(localstripe.url, shop_url=server.url, events=sorted(HANDLERS))
    yield server
    # localstripe outlives this test: stop it sending anything to a server that is gone.
    _set_webhook(localstripe.url, shop_url=server.url, events=[])
    server.stop()


@dataclass(frozen=True)
class Answer:
    step: str
    status: int
    seconds: float


@dataclass
class Buyer:
    number: int
    email: str
    answers: list[Answer] = field(default_factory=list)
    outcome: str = "starting"
    token: str = ""


@dataclass
class Sale:
    shop_url: str
    stripe_url: str
    product_path: str
    variant_id: int
    ready: asyncio.Barrier
    stripe: httpx.AsyncClient


def _step(request: httpx.Request) -> str:
    """Name a request by what the shopper was doing, for the status histogram."""
    return f"{request.method} {re.sub(r'^/order/[^/]+/', '/order/…/', request.url.path)}"


async def _shop_in(sale: Sale, buyer: Buyer) -> None:
    """One shopper's visit, as their browser makes it: own cookies, redirects followed."""

    async def record(response: httpx.Response) -> None:
        await response.aread()
        buyer.answers.append(Answer(_step(response.request), response.status_code, _seconds(response)))

    # A connection per request: uvicorn closes a connection idle for 5 s, and a client that
    # reuses it at that moment gets no answer (browsers retry such a request; httpx does not).
    async with httpx.AsyncClient(
        base_url=sale.shop_url,
        limits=httpx.Limits(max_keepalive_connections=0),
        follow_redirects=True,
        timeout=httpx.Timeout(90.0),
        event_hooks={"response": [record]},
    ) as browser:
        try:
            form = await _get_ready(sale, buyer, browser)
        except BaseException:
            await sale.ready.abort()  # nobody waits for a buyer who will never come
            raise
        await _place_and_pay(sale, buyer, browser, form)


async def _get_ready(sale: Sale, buyer: Buyer, browser: httpx.AsyncClient) -> dict[str, str]:
    """Browse to the product, add it to the cart, open the checkout; return the filled-in form."""
    buyer.outcome = "browsing"
    product_page = await browser.get(sale.product_path)
    assert "In stock" in product_page.text
    added = await browser.post(
        "/cart/add/",
        data={
            "csrfmiddlewaretoken": CSRF_INPUT.search(product_page.text).group(1),
            "next": sale.product_path,
            "variant": sale.variant_id,
            "quantity": 1,
        },
        follow_redirects=False,  # the cart page it leads to is not needed to check out
    )
    assert (added.status_code, added.headers["location"], added.cookies["cart_count"]) == (302, "/cart/", "1")
    checkout_page = await browser.get("/checkout/")
    return {
        "csrfmiddlewaretoken": CSRF_INPUT.search(checkout_page.text).group(1),
        "cart_version": CART_VERSION_INPUT.search(checkout_page.text).group(1),
        "quote": QUOTE_INPUT.search(checkout_page.text).group(1),
        "email": buyer.email,
        "full_name": f"Buyer {buyer.number}",
        "line1": f"{buyer.number} Market Street",
        "line2": "",
        "city": "Leeds",
        "postcode": "LS1 1AA",
        "country": "GB",
        "phone": "",
        "shipping_method": "standard",
    }


async def _place_and_pay(sale: Sale, buyer: Buyer, browser: httpx.AsyncClient, form: dict[str, str]) -> None:
    """Wait for the sale to open, place the order, and pay for it if it was placed."""
    # The sale opens: everyone presses "Place order" together.
    buyer.outcome = "waiting for the others"
    await sale.ready.wait()
    buyer.outcome = "placing the order"
    placed = await browser.post("/checkout/", data=form)
    paying = PAY_PATH.match(placed.url.path)
    if paying is None:
        buyer.outcome = "told sold out" if SOLD_OUT in placed.text else f"other: {placed.url.path}"
        return
    buyer.token = paying.group(1)
    buyer.outcome = "paying"
    await _pay(sale, buyer, browser, pay_page=placed.text)


async def _pay(sale: Sale, buyer: Buyer, browser: httpx.AsyncClient, *, pay_page: str) -> None:
    """What pay.js and Stripe.js do: a SetupIntent confirmed with the card, then the server charges."""
    headers = {"X-CSRFToken": CSRF_INPUT.search(pay_page).group(1)}
    order_path = f"/order/{buyer.token}"
    setup = await browser.post(f"{order_path}/pay/setup/", json={}, headers=headers)
    secret = setup.json()["client_secret"]
    setup_id = secret.split("_secret_")[0]
    confirmed = await sale.stripe.post(
        f"/v1/setup_intents/{setup_id}/confirm",
        content=json.dumps(
            {
                "key": "pk_test_suite",
                "use_stripe_sdk": True,
                "client_secret": secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": GOOD_CARD, "exp_month": "12", "exp_year": "34", "cvc": "123"},
                    "billing_details": {"email": buyer.email, "name": f"Buyer {buyer.number}"},
                },
            }
        ),
    )
    buyer.answers.append(
        Answer("POST localstripe /v1/setup_intents/…/confirm", confirmed.status_code, _seconds(confirmed))
    )
    assert confirmed.json()["status"] == "succeeded"
    paid = await browser.post(f"{order_path}/pay/confirm/", json={"setup_intent": setup_id}, headers=headers)
    body = paid.json()
    if body.get("status") != "succeeded":
        buyer.outcome = f"payment: {body}"
        return
    landed = await browser.get(body["return_url"])
    buyer.outcome = "paid" if "Thank you! Your payment was received" in landed.text else "payment unconfirmed"


async def _run_sale(
    buyers: list[Buyer], *, shop_url: str, stripe_url: str, product_path: str, variant_id: int
) -> None:
    """Send every buyer shopping at once; record how each visit ended, within SALE_DEADLINE."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=stripe_url, limits=limits, timeout=60) as stripe:
        sale = Sale(
            shop_url=shop_url,
            stripe_url=stripe_url,
            product_path=product_path,
            variant_id=variant_id,
            ready=asyncio.Barrier(BUYERS),
            stripe=stripe,
        )
        visits = [asyncio.create_task(_shop_in(sale, buyer)) for buyer in buyers]
        _done, late = await asyncio.wait(visits, timeout=SALE_DEADLINE)
        for visit in late:
            visit.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    for buyer, visit in zip(buyers, visits, strict=True):
        if visit in late:
            buyer.outcome = f"still {buyer.outcome} after {SALE_DEADLINE:.0f} s"
        elif visit.exception() is not None:
            buyer.outcome = f"error while {buyer.outcome}: {visit.exception()!r}"


def _seconds(response: httpx.Response) -> float:
    return response.elapsed.total_seconds()


def _step_table(answers: list[Answer]) -> str:
    """Return one line per step: how many answers, their status codes, and latency percentiles."""
    lines = []
    for step in sorted({answer.step for answer in answers}):
        mine = [answer for answer in answers if answer.step == step]
        seconds = sorted(answer.seconds for answer in mine)
        codes = dict(sorted(Counter(answer.status for answer in mine).items()))
        p50, p95 = seconds[len(seconds) // 2], seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))]
        lines.append(
            f"    {step:<46} {len(mine):>4}  {codes}  "
            f"p50 {p50:.2f} s  p95 {p95:.2f} s  max {seconds[-1]:.2f} s\n"
        )
    return "".join(lines)


def _wait_for_webhooks(deadline: float) -> int:
    """Wait until localstripe's payment_intent.succeeded events have all been applied; return how many."""
    applied = WebhookEvent.objects.filter(type="payment_intent.succeeded", processed_at__isnull=False)
    while applied.count() < UNITS and time.monotonic() < deadline:
        time.sleep(0.2)
    return applied.count()


@pytest.mark.slow
def test_flash_sale_500_buyers_for_10_units(outside, shipping, flash_shop, localstripe):
    product = ProductFactory(title=TITLE, slug="flash-lantern", category=CategoryFactory(), price_from=4500)
    variant = VariantFactory(product=product, sku="FLASH-LANTERN", price=4500)
    StockFactory(variant=variant, on_hand=UNITS)
    buyers = [Buyer(number=n, email=f"buyer-{n}@example.com") for n in range(BUYERS)]

    started = time.monotonic()
    asyncio.run(
        _run_sale(
            buyers,
            shop_url=flash_shop.url,
            stripe_url=localstripe.url,
            product_path=f"/products/{product.slug}/",
            variant_id=variant.pk,
        )
    )
    sale_seconds = time.monotonic() - started
    succeeded_events = _wait_for_webhooks(time.monotonic() + WEBHOOK_DEADLINE)
    total_seconds = time.monotonic() - started

    answers = [answer for buyer in buyers for answer in buyer.answers]
    histogram = Counter(answer.status for answer in answers)
    outcomes = Counter(buyer.outcome for buyer in buyers)
    paid_orders = Order.objects.filter(payment_status=Order.PaymentStatus.PAID)
    server_errors = [
        (buyer.number, answer) for buyer in buyers for answer in buyer.answers if answer.status >= 500
    ]
    print(
        f"\nflash sale: {BUYERS} buyers, {UNITS} units, shop on 2 uvicorn worker processes\n"
        f"  orders paid: {paid_orders.count()}; outcomes: {dict(outcomes)}\n"
        f"  5xx responses: {len(server_errors)}; succeeded webhooks applied: {succeeded_events}\n"
        f"  sale {sale_seconds:.1f} s, webhooks applied by {total_seconds:.1f} s; {len(answers)} responses\n"
        f"  status codes: {dict(sorted(histogram.items()))}\n"
        f"{_step_table(answers)}"
    )

    assert server_errors == []
    assert outcomes == {"paid": UNITS, "told sold out": BUYERS - UNITS}
    # Exactly the stock there was, sold once.
    assert paid_orders.count() == UNITS
    paid_lines = OrderLine.objects.filter(order__payment_status=Order.PaymentStatus.PAID)
    assert paid_lines.aggregate(sold=Sum("quantity")) == {"sold": UNITS}
    stock = Stock.objects.get(variant=variant)
    assert (stock.on_hand, stock.allocated) == (0, 0)
    assert Counter(Reservation.objects.values_list("status", flat=True)) == {"committed": UNITS}
    assert paid_orders.filter(stock_committed_at__isnull=False).count() == UNITS
    winners = {buyer.email for buyer in buyers if buyer.outcome == "paid"}
    assert set(paid_orders.values_list("email", flat=True)) == winners
    # Everyone else was told, has nothing pending, and nothing of theirs can be charged.
    losers = Order.objects.exclude(email__in=winners)
    assert losers.count() == BUYERS - UNITS
    assert set(losers.values_list("status", "cancel_reason")) == {
        (Order.Status.CANCELED, "out of stock: FLASH-LANTERN (0 left)")
    }
    assert not Payment.objects.filter(order__in=losers).exists()
    assert Counter(Payment.objects.values_list("status", flat=True)) == {"succeeded": UNITS}
    # In Stripe: one PaymentIntent per order; the losers' are all canceled, so none can be charged.
    intents = list_payment_intents(localstripe.url)
    status_by_order = {intent["metadata"]["order_number"]: intent["status"] for intent in intents}
    assert len(intents) == len(status_by_order) == BUYERS
    assert {status_by_order[number] for number in losers.values_list("number", flat=True)} == {"canceled"}
    assert {status_by_order[number] for number in paid_orders.values_list("number", flat=True)} == {
        "succeeded"
    }
    paid_intents = set(Payment.objects.values_list("payment_intent_id", flat=True))
    assert {intent["id"] for intent in intents if intent["status"] == "succeeded"} == paid_intents
    # localstripe's webhooks reached the shop and were applied without an error, one per payment.
    assert succeeded_events == UNITS
    assert {
        event.payload["data"]["object"]["id"]
        for event in WebhookEvent.objects.filter(type="payment_intent.succeeded")
    } == paid_intents
    assert not WebhookEvent.objects.exclude(error="").exists()
    # One confirmation e-mail queued per paid order, however many times each was seen paid.
    queued = DBTaskResult.objects.filter(task_path=send_order_confirmation.module_path)
    assert sorted(task.args_kwargs["args"][0] for task in queued) == sorted(
        paid_orders.values_list("pk", flat=True)
    )
    assert total_seconds < SALE_DEADLINE + WEBHOOK_DEADLINE

    report = StringIO()
    call_command("audit", stdout=report)  # raises CommandError when an invariant does not hold
    print(report.getvalue())
    assert_audit_clean()
