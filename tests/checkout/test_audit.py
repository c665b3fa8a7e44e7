"""manage.py audit: a shop run through its real flows passes; each invariant broken on purpose is named."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from checkout import keys
from checkout.clients import inventory as inventory_api
from checkout.clients import stripe as stripe_api
from checkout.models import Cart, CartLine, Order, OrderLine, Payment, Refund
from checkout.services.payment_outcomes import order_payment_succeeded
from checkout.services.placement import ShippingAddress, order_create, order_payment_started
from checkout.services.refunds import refund_claim, refund_finish
from inventory import services as inventory
from inventory.models import Reservation, ReservationLine, Stock
from tests.audit import assert_audit_clean
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ShippingMethodFactory,
    StockFactory,
    UserFactory,
    VariantFactory,
)
from tests.helpers import DECLINED_CARD, GOOD_CARD, Browser, _test_database_url, fill_cart, place, prices_seen
from tests.servers import ROOT

ADDRESS = ShippingAddress(
    full_name="Ann Walker",
    line1="1 High Street",
    line2="",
    city="Kendal",
    postcode="LA9 4DT",
    country="GB",
    phone="",
)


def audit() -> tuple[bool, str]:
    """Run `manage.py audit`; return (passed, its output)."""
    out = StringIO()
    try:
        call_command("audit", stdout=out, stderr=StringIO())
    except CommandError as error:
        assert str(error).endswith("audit checks failed.")
        return False, out.getvalue()
    return True, out.getvalue()


def assert_fails(*expected: str) -> str:
    passed, output = audit()
    assert not passed, output
    for text in expected:
        assert text in output, output
    return output


# A shop made through the real services, without Stripe: fast enough for one per test. -----


@pytest.fixture
def lamp(db):
    ShippingMethodFactory(price=495)  # to the UK; no tax rate is set, so no tax
    variant = VariantFactory(
        product=ProductFactory(title="Desk Lamp", category=CategoryFactory()), sku="LAMP", price=4000
    )
    StockFactory(variant=variant, on_hand=10)
    return variant


def placed(variant, quantity: int = 1) -> Order:
    """Return an order placed as checkout places it: stock held, a PaymentIntent recorded."""
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    order, _ = order_create(
        cart_id=cart.pk,
        cart_version=cart.version,
        user_id=None,
        email="ann@example.com",
        address=ADDRESS,
        shipping_method_code="standard",
        seen_prices=prices_seen(cart),
    )
    held, _ = inventory.reservation_create(
        idempotency_key=keys.reservation_key(order_number=order.number),
        reference=keys.reservation_reference(order_number=order.number),
        lines=[inventory.LineRequest(variant.sku, quantity)],
        ttl_seconds=900,
    )
    return order_payment_started(
        order_id=order.pk,
        cart_id=cart.pk,
        payment_intent=stripe_api.PaymentIntent(
            id=f"pi_{order.number}",
            status="requires_payment_method",
            amount=order.total,
            currency=order.currency,
            client_secret="",
            metadata={"order_number": order.number},
        ),
        reservation=inventory_api.Reservation(id=str(held.pk), status="held", expires_at=held.expires_at),
    )


def paid(variant, quantity: int = 1) -> Order:
    """Return an order paid as a succeeded PaymentIntent pays it: marked paid, its stock committed."""
    order = placed(variant, quantity)
    order_payment_succeeded(
        payment_intent_id=f"pi_{order.number}", amount=order.total, currency=order.currency
    )
    inventory.reservation_commit(reservation_id=order.reservation_id)
    Order.objects.filter(pk=order.pk).update(stock_committed_at=timezone.now())
    return Order.objects.get(pk=order.pk)


def refunded_in_part(variant, amount: int) -> Order:
    order = paid(variant)
    payment = order.payments.get()
    claim = refund_claim(
        order_id=order.pk,
        payment_id=payment.pk,
        amount=amount,
        reason="damaged",
        request_key="r1",
        actor_id=None,
    )
    refund_finish(refund_id=claim.pk, stripe_refund_id=f"re_{order.number}", status="succeeded")
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def shop(lamp):
    """A small shop: one order paid, one awaiting payment, one refunded in part."""
    orders = {
        "paid": paid(lamp, 2),
        "pending": placed(lamp),
        "partly_refunded": refunded_in_part(lamp, 1000),
    }
    passed, output = audit()
    assert passed, output
    return orders


def drop_constraint(table: str, name: str) -> None:
    """Drop a database constraint for this test only (the test's transaction rolls it back)."""
    with connection.cursor() as cursor:
        # Deferred foreign key checks pending on the table would block ALTER TABLE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# The clean shop, through every real flow --------------------------------------------------


def test_a_shop_run_through_its_real_flows_passes(outside, shipping, jumper):
    jumper_stock = Stock.objects.get(variant=jumper)
    jumper_stock.on_hand = 20
    jumper_stock.save()
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    def order_for(quantity: int = 1) -> tuple[Client, Order]:
        client = Client()
        assert place(client, fill_cart(client, (jumper, quantity))).status_code == 302
        return client, Order.objects.latest("created_at")

    client, paid_order = order_for(2)
    assert Browser(client, outside.STRIPE_API_BASE, paid_order).pay(GOOD_CARD).json()["status"] == "succeeded"
    client, second_try = order_for()
    browser = Browser(client, outside.STRIPE_API_BASE, second_try)
    assert browser.pay(DECLINED_CARD).status_code == 402
    assert browser.pay(GOOD_CARD).json()["status"] == "succeeded"
    order_for()  # awaiting payment
    client, refunded = order_for()
    Browser(client, outside.STRIPE_API_BASE, refunded).pay(GOOD_CARD)
    staff.post(
        f"/dashboard/orders/{refunded.number}/refund/",
        {"amount": "10.00", "reason": "scratched", "request_key": "k1"},
    )
    client, canceled_paid = order_for()
    Browser(client, outside.STRIPE_API_BASE, canceled_paid).pay(GOOD_CARD)
    staff.post(f"/dashboard/orders/{canceled_paid.number}/cancel/", {"reason": "customer asked"})
    _, canceled_unpaid = order_for()
    staff.post(f"/dashboard/orders/{canceled_unpaid.number}/cancel/", {"reason": "customer asked"})
    client = Client()
    version = fill_cart(client, (jumper, 3))
    Stock.objects.filter(variant=jumper).update(on_hand=F("allocated") + 1)  # sold elsewhere meanwhile
    assert place(client, version)["Location"] == "/cart/"  # out of stock: canceled at placement

    statuses = sorted(Order.objects.values_list("status", "payment_status", "fulfilment_status"))
    assert statuses == [
        ("canceled", "refunded", "unfulfilled"),
        ("canceled", "voided", "unfulfilled"),
        ("canceled", "voided", "unfulfilled"),
        ("open", "awaiting", "unfulfilled"),
        ("open", "paid", "unfulfilled"),
        ("open", "paid", "unfulfilled"),
        ("open", "partially_refunded", "unfulfilled"),
    ]
    passed, output = audit()
    assert passed and "All 14 checks passed." in output, output
    assert_audit_clean()

    # From the command line: 0 when clean, 1 with the report when not.
    env = {"DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": _test_database_url()}
    clean = run_audit_process(env)
    assert clean.returncode == 0 and "All 14 checks passed." in clean.stdout
    Stock.objects.filter(variant=jumper).update(allocated=0)
    broken = run_audit_process(env)
    assert broken.returncode == 1
    assert "FAILED stock-allocated-equals-holds" in broken.stdout
    assert "SKU JUMP-M: 0 allocated, but held reservations hold 1." in broken.stdout
    assert "1 of 14 audit checks failed." in broken.stderr


def run_audit_process(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "audit"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# Each invariant, broken on purpose ---------------------------------------------------------


def test_negative_stock(shop, lamp):
    drop_constraint("catalog_stock", "catalog_stock_on_hand_check")
    drop_constraint("catalog_stock", "stock_allocated_within_on_hand")
    Stock.objects.filter(variant=lamp).update(on_hand=-1)

    assert_fails("FAILED stock-within-bounds", "SKU LAMP: on hand -1, allocated 1.")


def test_more_allocated_than_on_hand(shop, lamp):
    drop_constraint("catalog_stock", "stock_allocated_within_on_hand")
    Stock.objects.filter(variant=lamp).update(on_hand=0)

    output = assert_fails("FAILED stock-within-bounds", "SKU LAMP: on hand 0, allocated 1.")
    assert "1 of 14 checks failed" in output


def test_allocated_units_not_held_by_any_reservation(shop, lamp):
    Stock.objects.filter(variant=lamp).update(allocated=3)

    output = assert_fails(
        "FAILED stock-allocated-equals-holds", "SKU LAMP: 3 allocated, but held reservations hold 1."
    )
    assert "1 of 14 checks failed" in output


def test_paid_order_without_its_payment(shop):
    order = shop["paid"]
    Payment.objects.filter(order=order).update(status="requires_payment_method")

    assert_fails(
        "FAILED paid-orders-have-their-payment",
        f"Order {order.number} is paid but has no succeeded payment of its total £84.95.",
    )


def test_paid_order_whose_payment_is_for_another_amount(shop):
    order = shop["paid"]
    Payment.objects.filter(order=order).update(amount=order.total - 1)

    assert_fails("FAILED paid-orders-have-their-payment", f"Order {order.number} is paid but has no")


def test_paid_order_whose_stock_was_never_committed(shop):
    order = shop["paid"]
    Order.objects.filter(pk=order.pk).update(stock_committed_at=None)

    output = assert_fails(
        "FAILED paid-orders-have-their-stock",
        f"Order {order.number} is paid but its stock commit is not recorded "
        f"(reservation {order.reservation_id}: committed).",
    )
    assert "1 of 14 checks failed" in output


def test_paid_order_whose_reservation_was_released(shop):
    order = shop["paid"]
    Reservation.objects.filter(pk=order.reservation_id).update(status="released")

    assert_fails(
        "FAILED paid-orders-have-their-stock",
        f"Order {order.number} is paid but its stock is not committed "
        f"(reservation {order.reservation_id}: released).",
    )


def test_paid_order_whose_stock_was_taken_twice(shop, lamp):
    order = shop["paid"]
    again, _ = inventory.reservation_create(
        idempotency_key="again",
        reference=keys.reservation_reference(order_number=order.number),
        lines=[inventory.LineRequest("LAMP", 2)],
        ttl_seconds=900,
    )
    inventory.reservation_commit(reservation_id=again.pk)

    assert_fails("FAILED paid-orders-have-their-stock", f"Order {order.number} took its stock 2 times")


def test_stock_committed_for_an_unpaid_order(shop, lamp):
    order = shop["pending"]
    Reservation.objects.filter(pk=order.reservation_id).update(status="committed")

    assert_fails(
        "FAILED committed-stock-belongs-to-paid-orders",
        f"Reservation {order.reservation_id} committed stock for order {order.number}, "
        "which is awaiting payment.",
    )


def test_reservation_that_does_not_match_its_order(shop):
    order = shop["paid"]
    ReservationLine.objects.filter(reservation_id=order.reservation_id).update(quantity=1)

    output = assert_fails(
        "FAILED reservations-match-orders",
        f"Order {order.number}'s reservation {order.reservation_id} does not hold exactly the order's lines.",
    )
    assert "1 of 14 checks failed" in output


def test_order_pointing_at_a_missing_reservation(shop):
    order = shop["pending"]
    Order.objects.filter(pk=order.pk).update(reservation_id="00000000-0000-0000-0000-000000000000")

    assert_fails(
        "FAILED reservations-match-orders",
        f"Order {order.number}'s reservation 00000000-0000-0000-0000-000000000000 does not exist.",
    )


def test_unpaid_order_with_a_succeeded_payment(shop):
    order = shop["pending"]
    Payment.objects.filter(order=order).update(status="succeeded")

    assert_fails(
        "FAILED unpaid-orders-charge-nothing",
        f"Order {order.number} awaits payment, but a payment for it succeeded.",
        "FAILED money-kept-matches-status",
    )


def test_unpaid_order_whose_stock_is_no_longer_held(shop, lamp):
    order = shop["pending"]
    inventory.reservation_release(reservation_id=order.reservation_id)

    output = assert_fails(
        "FAILED unpaid-orders-charge-nothing",
        f"Order {order.number} awaits payment, but its reservation {order.reservation_id} was released",
    )
    assert "1 of 14 checks failed" in output


def test_canceled_order_that_still_holds_stock_and_a_live_payment(shop):
    order = shop["pending"]
    Order.objects.filter(pk=order.pk).update(status="canceled", canceled_at=timezone.now())

    assert_fails(
        "FAILED canceled-orders-hold-nothing",
        f"Canceled order {order.number} still holds stock (a held reservation).",
        f"Canceled order {order.number} has 1 payment(s) that were never canceled",
    )


def test_canceled_order_that_kept_the_money(shop):
    order = shop["paid"]
    Order.objects.filter(pk=order.pk).update(status="canceled", canceled_at=timezone.now())
    inventory.reservation_return(reservation_id=order.reservation_id)

    output = assert_fails(
        "FAILED money-kept-matches-status",
        f"Order {order.number} is canceled for £84.95, but keeps £84.95 (£84.95 received, £0.00 refunded).",
    )
    assert "1 of 14 checks failed" in output


def test_refunds_beyond_the_payment(shop):
    order = shop["partly_refunded"]
    Refund.objects.filter(order=order).update(amount=order.total + 500)

    assert_fails(
        "FAILED refunds-within-payments",
        f"Payment pi_{order.number} of order {order.number}: £49.95 refunded of £44.95 paid.",
    )


def test_refund_on_a_payment_that_never_succeeded(shop):
    order = shop["partly_refunded"]
    Payment.objects.filter(order=order).update(status="canceled")

    assert_fails(
        "FAILED refunds-within-payments",
        f"Payment pi_{order.number} of order {order.number} is canceled, yet £10.00 was refunded.",
    )


def test_order_paid_twice_without_a_refund(shop):
    order = shop["paid"]
    Payment.objects.create(
        order=order,
        attempt=2,
        payment_intent_id="pi_second",
        amount=order.total,
        currency=order.currency,
        status="succeeded",
    )

    output = assert_fails(
        "FAILED money-kept-matches-status",
        f"Order {order.number} is paid for £84.95, but keeps £169.90 (£169.90 received, £0.00 refunded).",
    )
    assert "1 of 14 checks failed" in output


def test_order_subtotal_that_is_not_the_sum_of_its_lines(shop):
    order = shop["paid"]
    # No tax on the lamp: a line's net is its price.
    OrderLine.objects.filter(order=order).update(unit_price=3000, list_price=3000, line_total=6000, net=6000)

    output = assert_fails(
        "FAILED order-totals",
        f"Order {order.number}'s subtotal £80.00 is not the sum of its lines' net, £60.00.",
    )
    assert "1 of 14 checks failed" in output


def test_a_report_lists_every_failed_check(shop, lamp):
    Stock.objects.filter(variant=lamp).update(allocated=3)
    OrderLine.objects.filter(order=shop["paid"]).update(
        unit_price=3000, list_price=3000, line_total=6000, net=6000
    )

    output = assert_fails("FAILED stock-allocated-equals-holds", "FAILED order-totals")
    assert output.rstrip().endswith("2 of 14 checks failed (12 passed).")
