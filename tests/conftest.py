import ipaddress
import socket

import httpx
import pytest
from django.db import connection

from checkout.models import Order
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    StockFactory,
    TaxRateFactory,
    VariantFactory,
)
from tests.servers import LocalStripe, ThreadedShop


def _is_local(address: object) -> bool:
    if isinstance(address, str):  # a Unix socket path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond loopback."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if not _is_local(address):
            raise RuntimeError(f"tests may not reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


# The outside services (localstripe, the inventory API over HTTP) and shop fixtures ----------


@pytest.fixture(scope="session")
def localstripe():
    server = LocalStripe()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def threaded_shop(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = ThreadedShop()
    yield server
    server.stop()
    # The server's worker threads may still hold database sessions; end them so the
    # test database can be dropped.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def outside(settings, localstripe, threaded_shop, transactional_db):
    """Point the shop at real outside services: localstripe and the inventory API over HTTP."""
    httpx.delete(f"{localstripe.url}/_config/data", timeout=5).raise_for_status()  # a clean Stripe per test
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = f"{localstripe.url}/js.stripe.com/v3/"
    settings.INVENTORY_API_URL = f"{threaded_shop.url}/inventory/v1"
    settings.INVENTORY_API_TIMEOUT = 3.0
    return settings


@pytest.fixture
def shipping():
    """Delivery to the UK (standard £4.95, free from £75; express £9.95) and to Germany and
    France (standard £9.95); VAT at 20 % in the UK and France, 19 % in Germany. Return the UK's
    standard method."""
    TaxRateFactory(country="GB", rate=20)
    TaxRateFactory(country="DE", rate=19)
    TaxRateFactory(country="FR", rate=20)
    standard = ShippingMethodFactory(code="standard", name="Standard", price=495, free_over=7500)
    ShippingMethodFactory(zone=standard.zone, code="express", name="Express", price=995, position=1)
    europe = ShippingZoneFactory(name="Europe", countries=["DE", "FR"], position=1)
    ShippingMethodFactory(zone=europe, code="standard", name="Standard", price=995)
    return standard


@pytest.fixture
def jumper():
    """A variant with three in stock."""
    product = ProductFactory(
        title="Merino Jumper", slug="merino-jumper", category=CategoryFactory(), price_from=6500
    )
    variant = VariantFactory(product=product, sku="JUMP-M", options={"size": "M"}, price=6500)
    StockFactory(variant=variant, on_hand=3)
    return variant


@pytest.fixture
def order(outside, shipping, client, jumper) -> Order:
    """A placed guest order for one jumper, awaiting payment."""
    from tests.helpers import fill_cart, place

    assert place(client, fill_cart(client, (jumper, 1))).status_code == 302
    return Order.objects.get()
