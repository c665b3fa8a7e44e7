"""A discount code under a rush: 500 shoppers, each in their own session with the code applied,
press "Place order" at once against two processes of the shop; the code has 10 uses.

The shop runs as two uvicorn processes on the test database (pool on), reached like one shop
behind a balancer: each shopper fills the cart on one and places the order on the other. The
inventory API is the shop's own, Stripe is localstripe. Exactly as many orders get the discount
as the code has uses, everyone else is told before paying, and the uses then follow the orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.cookiejar import CookieJar

import httpx
import pytest
from asgiref.sync import async_to_sync

from checkout.models import Order, Payment
from checkout.services.staff import astaff_cancel
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.audit import assert_audit_clean
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    StockFactory,
    UserFactory,
    VariantFactory,
    order_codes,
)
from tests.helpers import ADDRESS, GOOD_CARD, _test_database_url, list_payment_intents
from tests.servers import ShopProcess

SHOPPERS = 500
USES = 10
GETTING_READY = 40  # shoppers filling their carts at the same time before the rush
RUSH_DEADLINE = 90.0  # seconds for the whole test's shopping, both phases
CODE = "RUSH10"
PASSWORD = "correct horse battery"
# The lantern costs £20.00; 10 % off is £2.00; delivery £4.95 (free only from £75).
PRICE, OFF, DELIVERY = 2000, 200, 495

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM_INPUTS = {
    "csrfmiddlewaretoken": CSRF_INPUT,
    "cart_version": re.compile(r'name="cart_version" value="(\d+)"'),
    "quote": re.compile(r'name="quote" value="([^"]+)"'),
}
PAY_PATH = re.compile(r"^/order/([\w-]+)/pay/$")
# What a shopper who does not get the code is told, in the order looked for.
TOLD = {
    "just used up": "Sorry — that code has just been used up by another order",
    "used up": "That code has been used up.",
    "already used": "You have already used that code: it can be used once per customer.",
}


@pytest.fixture
def two_shops(outside, localstripe):
    """Two processes of the shop, each on its own port, pointed at localstripe: their addresses."""
    env = {
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_JS_URL": f"{localstripe.url}/js.stripe.com/v3/",
        "STRIPE_TIMEOUT": "30",
        "INVENTORY_API_TIMEOUT": "30",
        "DATABASE_POOL_MAX_SIZE": "12",
        "LOG_LEVEL": "ERROR",  # not 490 lines of "order placement failed"
        # Every shopper here comes from 127.0.0.1: the limits stay on (counted), but high.
        "RATE_LIMIT_PLACE_ORDER": f"{SHOPPERS * 10}/h",
        "RATE_LIMIT_DISCOUNT_CODE": f"{SHOPPERS * 10}/h",
        "RATE_LIMIT_LOGIN": f"{SHOPPERS * 10}/h",
    }
    shops: list[ShopProcess] = []
    try:
        shops += [ShopProcess(database_url=_test_database_url(), env=env) for _ in range(2)]
        yield [shop.url for shop in shops]
    finally:
        for shop in shops:
            shop.stop()


@pytest.fixture
def lantern():
    """A £20.00 lantern, plenty in stock: only the code is short."""
    product = ProductFactory(title="Storm Lantern", category=CategoryFactory(), price_from=PRICE)
    variant = VariantFactory(product=product, sku="LANTERN", price=PRICE)
    StockFactory(variant=variant, on_hand=SHOPPERS * 2)
    return variant


def code(*, limit: int | None, once_per_customer: bool = False) -> DiscountCode:
    ten = {"name": "Rush ten", "reward": "percent", "percent": Decimal(10)}
    promotion = Promotion.objects.create(**ten, once_per_customer=once_per_customer)
    return DiscountCode.objects.create(promotion=promotion, code=CODE, usage_limit=limit)


@dataclass
class Shopper:
    number: int
    fill_at: str  # the shop process the cart is filled on
    place_at: str  # the one "Place order" reaches
    email: str = ""
    cookies: CookieJar = field(default_factory=CookieJar)  # the shopper's own, kept between visits
    browser: httpx.AsyncClient | None = None
    form: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    placed: httpx.Response | None = None
    seconds: float = 0.0
    token: str = ""

    @property
    def outcome(self) -> str:
        """Return how pressing "Place order" ended: placed, told why not, or something else."""
        if self.placed is None or PAY_PATH.match(self.placed.headers.get("location", "")):
            return "no answer" if self.placed is None else "placed"
        text = " ".join(self.placed.text.split()) if self.placed.status_code == 409 else ""
        return next((f"told: {why}" for why, words in TOLD.items() if words in text), "other")


@contextlib.asynccontextmanager
async def _browsing(shoppers: list[Shopper]):
    """Open each shopper's browser on their own cookies (with a CSRF cookie, as the shop's pages
    would set one); close them all afterwards, the cookies kept."""
    for shopper in shoppers:
        shopper.browser = httpx.AsyncClient(
            cookies=shopper.cookies,
            # A connection per request: uvicorn closes one idle for 5 s; a reused one may get no answer.
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(RUSH_DEADLINE),
        )
        if "csrftoken" not in shopper.browser.cookies:
            shopper.browser.cookies.set("csrftoken", secrets.token_hex(16), domain="127.0.0.1")
    try:
        yield
    finally:
        for shopper in shoppers:
            await shopper.browser.aclose()


async def _send(shopper: Shopper, method: str, url: str, **options) -> httpx.Response:
    response = await shopper.browser.request(method, url, **options)
    shopper.statuses.append(response.status_code)
    return response


async def _post_form(shopper: Shopper, url: str, **fields) -> httpx.Response:
    """Send a form of the shop's pages (their CSRF token is the cookie's)."""
    fields["csrfmiddlewaretoken"] = shopper.browser.cookies["csrftoken"]
    return await _send(shopper, "POST", url, data=fields)


def _checkout_form(shopper: Shopper, page: str) -> dict[str, str]:
    """Return the checkout form as the page shows it, filled in with the shopper's address."""
    shown = {name: pattern.search(page).group(1) for name, pattern in FORM_INPUTS.items()}
    return {**ADDRESS, "email": shopper.email, "full_name": f"Shopper {shopper.number}", **shown}


async def _checkout_open(shopper: Shopper, *, discounted: bool = True) -> str:
    """Open the checkout, which shows the discount among its totals (or not); keep its form, return it."""
    page = await _send(shopper, "GET", f"{shopper.fill_at}/checkout/")
    assert page.status_code == 200
    total = PRICE - OFF + DELIVERY if discounted else PRICE + DELIVERY
    assert (f'data-total="discount">−£{OFF / 100:.2f}<' in page.text) is discounted
    assert f'data-total="total">£{total / 100:.2f}<' in page.text
    shopper.form = _checkout_form(shopper, page.text)
    return page.text


async def _get_ready(shopper: Shopper, variant_id: int) -> None:
    """Put one lantern in the cart, apply the code on the way to the checkout and open it."""
    added = await _post_form(shopper, f"{shopper.fill_at}/cart/add/", variant=variant_id, quantity=1)
    assert (added.status_code, added.headers["location"]) == (302, "/cart/")
    applied = await _post_form(shopper, f"{shopper.fill_at}/cart/code/", code=CODE, next="/checkout/")
    assert (applied.status_code, applied.headers["location"]) == (302, "/checkout/")
    await _checkout_open(shopper)


async def _place(shopper: Shopper, start: asyncio.Event) -> None:
    await start.wait()
    began = time.monotonic()
    try:
        shopper.placed = await _send(shopper, "POST", f"{shopper.place_at}/checkout/", data=shopper.form)
    finally:
        shopper.seconds = time.monotonic() - began


async def _rush(shoppers: list[Shopper], variant_id: int) -> tuple[float, float]:
    """Get every shopper ready, then let them all press "Place order" at once; return each phase's time."""
    began = time.monotonic()
    room = asyncio.Semaphore(GETTING_READY)

    async def ready(shopper: Shopper) -> None:
        async with room:
            await _get_ready(shopper, variant_id)

    await asyncio.wait_for(asyncio.gather(*(ready(s) for s in shoppers)), RUSH_DEADLINE)
    ready_seconds = time.monotonic() - began
    await asyncio.wait_for(_press_together(shoppers), RUSH_DEADLINE)
    return ready_seconds, time.monotonic() - began - ready_seconds


async def _press_together(shoppers: list[Shopper]) -> None:
    """Let every shopper press "Place order" at the same moment."""
    start = asyncio.Event()
    presses = [asyncio.create_task(_place(shopper, start)) for shopper in shoppers]
    await asyncio.sleep(0)  # every press waits at the start line
    start.set()
    await asyncio.gather(*presses)


async def _pay(shopper: Shopper, stripe_url: str) -> str:
    """Pay as the payment page's script and Stripe.js do; return the page the shopper lands on."""
    order_url = f"{shopper.place_at}/order/{shopper.token}"
    pay_page = await _send(shopper, "GET", f"{order_url}/pay/")
    headers = {"X-CSRFToken": CSRF_INPUT.search(pay_page.text).group(1)}
    secret = (await _send(shopper, "POST", f"{order_url}/pay/setup/", json={}, headers=headers)).json()
    setup_id = secret["client_secret"].split("_secret_")[0]
    card = {"number": GOOD_CARD, "exp_month": "12", "exp_year": "34", "cvc": "123"}
    body = {"key": "pk_test_suite", "client_secret": secret["client_secret"], "use_stripe_sdk": True}
    async with httpx.AsyncClient(timeout=30) as stripe:
        confirmed = await stripe.post(
            f"{stripe_url}/v1/setup_intents/{setup_id}/confirm",
            content=json.dumps({**body, "payment_method_data": {"type": "card", "card": card}}),
        )
    assert confirmed.json()["status"] == "succeeded"
    paid = await _send(
        shopper, "POST", f"{order_url}/pay/confirm/", json={"setup_intent": setup_id}, headers=headers
    )
    assert paid.json()["status"] == "succeeded", paid.text
    url = f"{shopper.place_at}{paid.json()['return_url']}"
    return (await _send(shopper, "GET", url, follow_redirects=True)).text


@pytest.mark.slow
def test_500_shoppers_race_for_a_code_with_10_uses(outside, shipping, two_shops, localstripe, lantern):
    rush = code(limit=USES)
    shops = two_shops
    shoppers = [
        Shopper(n, shops[n % 2], shops[(n + 1) % 2], email=f"s{n}@example.com") for n in range(SHOPPERS)
    ]

    async def everyone() -> tuple[float, float]:
        async with _browsing(shoppers):
            return await _rush(shoppers, lantern.pk)

    ready_seconds, rush_seconds = asyncio.run(everyone())

    outcomes = Counter(shopper.outcome for shopper in shoppers)
    latencies = sorted(shopper.seconds for shopper in shoppers)
    statuses = Counter(status for shopper in shoppers for status in shopper.statuses)
    discounted = Order.objects.filter(discounts__code=CODE)
    print(
        f"\ncode rush: {SHOPPERS} shoppers for {USES} uses of {CODE}, two shop processes\n"
        f"  getting ready (add, apply the code, open the checkout): {ready_seconds:.1f} s\n"
        f"  the rush: {rush_seconds:.1f} s; orders discounted {discounted.count()}; "
        f"outcomes {dict(outcomes)}\n"
        f"  place order latency: p50 {latencies[len(latencies) // 2]:.2f} s, "
        f"p95 {latencies[len(latencies) * 95 // 100]:.2f} s, max {latencies[-1]:.2f} s\n"
        f"  status codes of every answer: {dict(sorted(statuses.items()))}"
    )

    assert not [status for status in statuses if status >= 500]
    told = {key: count for key, count in outcomes.items() if key.startswith("told: ")}
    assert outcomes["placed"] == USES
    assert sum(told.values()) == SHOPPERS - USES, outcomes
    assert set(told) <= {"told: just used up", "told: used up"}
    # Exactly the uses there were, each on its own order, each order charged the discounted total.
    rush.refresh_from_db()
    assert rush.uses == USES
    assert Order.objects.count() == discounted.count() == USES
    assert set(discounted.values_list("discounts__code", "discount_total", "total")) == {
        (CODE, OFF, PRICE - OFF + DELIVERY)
    }
    assert Counter(CodeUse.objects.values_list("status", flat=True)) == {"held": USES}
    winners = [shopper for shopper in shoppers if shopper.outcome == "placed"]
    assert {shopper.email for shopper in winners} == set(discounted.values_list("email", flat=True))
    intents = list_payment_intents(localstripe.url)
    assert sorted(intent["amount"] for intent in intents) == [PRICE - OFF + DELIVERY] * USES
    # A shopper who was told sees the checkout again, its total without the code.
    loser = next(shopper for shopper in shoppers if shopper.outcome.startswith("told"))
    assert f'data-total="total">£{(PRICE + DELIVERY) / 100:.2f}<' in loser.placed.text
    assert 'data-total="discount"' not in loser.placed.text
    assert_audit_clean()

    _uses_follow_the_orders(rush, winners, loser, localstripe.url)


def _uses_follow_the_orders(rush: DiscountCode, winners: list[Shopper], loser: Shopper, stripe_url: str):
    """Four winners pay, three are canceled unpaid by staff, three wait; a use given back goes to
    the next shopper who asks for it."""
    for shopper in winners:
        shopper.token = PAY_PATH.match(shopper.placed.headers["location"]).group(1)
    paying, canceled = winners[:4], winners[4:7]

    async def pay_all() -> list[str]:
        async with _browsing(paying):
            return await asyncio.gather(*(_pay(shopper, stripe_url) for shopper in paying))

    landed = asyncio.run(pay_all())
    assert all("Thank you! Your payment was received" in page for page in landed)
    staff = UserFactory(is_staff=True)
    for shopper in canceled:
        order = Order.objects.get(public_token=shopper.token)
        async_to_sync(astaff_cancel)(order=order, reason="customer asked", actor_id=staff.pk)

    rush.refresh_from_db()
    assert rush.uses == USES - len(canceled)
    uses = dict(CodeUse.objects.values_list("order__public_token", "status"))
    assert uses == {
        **{shopper.token: "consumed" for shopper in paying},
        **{shopper.token: "released" for shopper in canceled},
        **{shopper.token: "held" for shopper in winners[7:]},
    }
    paid = Order.objects.filter(payment_status=Order.PaymentStatus.PAID)
    assert set(paid.values_list("public_token", flat=True)) == {shopper.token for shopper in paying}
    assert set(Payment.objects.filter(order__in=paid).values_list("amount_received", flat=True)) == {
        PRICE - OFF + DELIVERY
    }
    assert_audit_clean()

    # A shopper who was told opens the checkout again: a use given back is theirs now.
    async def try_again() -> httpx.Response:
        async with _browsing([loser]):
            await _checkout_open(loser)
            return await _send(loser, "POST", f"{loser.place_at}/checkout/", data=loser.form)

    placed = asyncio.run(try_again())
    assert placed.status_code == 302 and PAY_PATH.match(placed.headers["location"])
    rush.refresh_from_db()
    assert rush.uses == USES - len(canceled) + 1
    assert Order.objects.get(email=loser.email).discount_total == OFF
    assert_audit_clean()


@pytest.mark.parametrize(
    "signed_in", [True, False], ids=["two-sessions-of-one-account", "two-guests-one-email"]
)
def test_a_once_per_customer_code_raced_from_two_tabs(outside, shipping, two_shops, lantern, signed_in):
    once = code(limit=None, once_per_customer=True)
    shops = two_shops
    tabs = [Shopper(n, fill_at=shops[n], place_at=shops[1 - n], email="ann@example.com") for n in (0, 1)]
    if signed_in:
        UserFactory(username="ann@example.com", email="ann@example.com")

    async def race() -> None:
        async with _browsing(tabs):
            if signed_in:
                for tab in tabs:
                    login = await _post_form(
                        tab, f"{tab.fill_at}/account/login/", username=tab.email, password=PASSWORD
                    )
                    assert login.status_code == 302
                await _get_ready(tabs[0], lantern.pk)  # the account's one cart, open in both tabs
                await _checkout_open(tabs[1])
            else:
                await asyncio.gather(*(_get_ready(tab, lantern.pk) for tab in tabs))
            await _press_together(tabs)

    asyncio.run(race())

    outcomes = sorted(tab.outcome for tab in tabs)
    order = Order.objects.get()
    assert (order_codes(order), order.discount_total, order.total) == ((CODE,), OFF, PRICE - OFF + DELIVERY)
    once.refresh_from_db()
    assert once.uses == 1
    key = "email:ann@example.com"  # the e-mail the order was placed with, signed in or not
    assert list(CodeUse.objects.values_list("order", "customer_key", "status")) == [(order.pk, key, "held")]
    if signed_in:
        # One cart, one order: a second press of the same cart finds the order the first made.
        assert outcomes in (["placed", "placed"], ["placed", "told: already used"])
        assert {tab.placed.headers["location"] for tab in tabs if tab.outcome == "placed"} == {
            f"/order/{order.public_token}/pay/"
        }
    else:
        assert outcomes == ["placed", "told: already used"]
    assert_audit_clean()

    # The other tab carries on: its order is placed without the code, which says why.
    other = next((tab for tab in tabs if tab.outcome != "placed"), tabs[1])

    async def carry_on() -> httpx.Response:
        async with _browsing([other]):
            if signed_in:
                await _post_form(other, f"{other.fill_at}/cart/add/", variant=lantern.pk, quantity=1)
                # The code went with the order; typed again, it is refused, saying why.
                again = await _post_form(other, f"{other.fill_at}/cart/code/", code=CODE, next="/cart/")
                assert again.status_code == 302
                cart = await _send(other, "GET", f"{other.fill_at}/cart/")
                assert TOLD["already used"] in cart.text
                await _checkout_open(other, discounted=False)
                form = other.form
            else:  # the page it was told on shows the totals without the code, to place as they are
                assert f'data-total="total">£{(PRICE + DELIVERY) / 100:.2f}<' in other.placed.text
                assert 'data-total="discount"' not in other.placed.text
                form = _checkout_form(other, other.placed.text)
            return await _send(other, "POST", f"{other.place_at}/checkout/", data=form)

    again = asyncio.run(carry_on())
    assert again.status_code == 302, " ".join(again.text.split())[:3000]
    second = Order.objects.exclude(pk=order.pk).get()
    assert (order_codes(second), second.discount_total, second.total) == ((), 0, PRICE + DELIVERY)
    once.refresh_from_db()
    assert once.uses == 1 and CodeUse.objects.count() == 1
    assert_audit_clean()
