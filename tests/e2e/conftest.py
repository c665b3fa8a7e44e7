"""Browser tests: Debian's Chromium driven by Playwright, against the shop run as its own uvicorn process.

The shop process is production-like (DEBUG off, connection pool on) and uses the
test database, so tests use committed data (`transactional_db`). localstripe
serves the fake Stripe.js and delivers its webhooks to the shop.
"""

import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    StockFactory,
    TaxRateFactory,
    VariantFactory,
)
from tests.servers import LocalStripe, ShopProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WEBHOOK_SECRET = "whsec_test_suite"


@pytest.fixture(autouse=True)
def _playwright_loop_in_test_process(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # database work is still synchronous. Only this process is relaxed, never the shop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def e2e_stripe():
    server = LocalStripe()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def e2e_shop(django_db_setup, django_db_blocker, e2e_stripe):
    with django_db_blocker.unblock():
        settings = connection.settings_dict
    url = urlsplit(f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/")
    database_url = urlunsplit(url._replace(path=f"/{settings['NAME']}"))
    server = ShopProcess(
        database_url=database_url,
        env={
            "STRIPE_API_BASE": e2e_stripe.url,
            "STRIPE_JS_URL": f"{e2e_stripe.url}/js.stripe.com/v3/",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_suite",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        httpx.post(
            f"{e2e_stripe.url}/_config/webhooks/shop",
            data={"url": f"{server.url}/webhooks/stripe/", "secret": WEBHOOK_SECRET},
        ).raise_for_status()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    """Chromium for one test module. Playwright's sync API runs an event loop in this thread while
    it is open, so it is closed before tests outside tests/e2e run in the same process."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` (make test does)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def shop(transactional_db, e2e_shop, e2e_stripe, settings):
    """The running shop (and this process pointed at the same Stripe), with a small catalogue,
    delivery to the UK (standard £4.95, free from £75; express £9.95) and VAT at 20 % there,
    included in the prices."""
    settings.STRIPE_API_BASE = e2e_stripe.url
    settings.INVENTORY_API_URL = f"{e2e_shop.url}/inventory/v1"
    standard = ShippingMethodFactory(
        code="standard", name="Standard delivery", price=495, free_over=7500, description="3–5 working days."
    )
    ShippingMethodFactory(zone=standard.zone, code="express", name="Express delivery", price=995, position=1)
    TaxRateFactory(country="GB", rate=20)
    clothing = CategoryFactory(name="Clothing", slug="clothing", description="Clothes that last.")
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear", parent=clothing)
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    jumper = ProductFactory(
        title="Brora Merino Jumper",
        slug="brora-merino-jumper",
        category=knitwear,
        price_from=6500,
        is_featured=True,
        description="Soft merino from Scotland.",
    )
    for size, on_hand in [("S", 5), ("M", 8), ("L", 0)]:
        StockFactory(
            variant=VariantFactory(
                product=jumper, sku=f"JUMP-{size}", options={"size": size, "colour": "Navy"}, price=6500
            ),
            on_hand=on_hand,
        )
    mug = ProductFactory(title="Enamel Camp Mug", slug="enamel-camp-mug", category=kitchen, price_from=1250)
    StockFactory(variant=VariantFactory(product=mug, sku="MUG", price=1250), on_hand=20)
    sold_out = ProductFactory(
        title="Sold Out Cardigan", slug="sold-out-cardigan", category=knitwear, price_from=7000
    )
    StockFactory(
        variant=VariantFactory(product=sold_out, sku="CARD-M", options={"size": "M"}, price=7000), on_hand=0
    )
    httpx.delete(f"{e2e_stripe.url}/_config/data", timeout=5).raise_for_status()
    return e2e_shop


@pytest.fixture
def page(chromium, request):
    """A fresh browser profile (context) per test; a full-page screenshot helper as `page.shot(name)`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    SCREENSHOTS.mkdir(exist_ok=True)
    test_name = request.node.name.removeprefix("test_")

    def shot(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{test_name}--{name}.png"), full_page=True)

    page.shot = shot  # type: ignore[attr-defined]
    # Chromium reports each thing the Content-Security-Policy blocked on the console.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield page
    context.close()
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked}"
