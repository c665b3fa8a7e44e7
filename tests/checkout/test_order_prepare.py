"""Placement in two steps: the order is validated and priced with reads only, then written in one
short transaction that checks the cart is still in the state that was priced."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.exceptions import CartChanged, CartEmpty, CartError, PricesChanged
from checkout.models import Cart, CartLine, Order, OrderEvent, OrderLine
from checkout.services.carts import cart_line_add
from checkout.services.placement import order_write
from checkout.services.placement_prepare import LineDraft, ShippingAddress, order_prepare
from tests.helpers import prices_seen

ADDRESS = ShippingAddress(
    full_name="Ann Walker",
    line1="1 High Street",
    line2="",
    city="Kendal",
    postcode="LA9 4DT",
    country="GB",
    phone="",
)


@pytest.fixture
def cart(jumper) -> Cart:
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=jumper, quantity=2)
    Cart.objects.filter(pk=cart.pk).update(version=3)
    cart.refresh_from_db()
    return cart


def prepare(cart: Cart, **changes):
    arguments = {
        "cart_id": cart.pk,
        "cart_version": cart.version,
        "address": ADDRESS,
        "shipping_method_code": "standard",
        "seen_prices": prices_seen(cart),
    } | changes
    return order_prepare(**arguments)


@pytest.mark.django_db
def test_prepare_prices_the_cart_with_reads_only(shipping, jumper, cart):
    seen = prices_seen(cart)
    with CaptureQueriesContext(connection) as queries:
        draft = prepare(cart, seen_prices=seen)

    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SELECT"] * len(queries)
    assert (draft.checkout_key, draft.cart_id, draft.cart_version) == (f"cart-{cart.pk}-v3", cart.pk, 3)
    assert (draft.shipping_method_code, draft.shipping_method_name) == ("standard", "Standard")
    # 2 × 65.00 = 130.00 including VAT, delivered free (over 75.00); VAT 13000*20/120 = 2166.67 -> 2167
    totals = draft.totals
    assert (totals.subtotal, totals.shipping, totals.tax, totals.total) == (13000, 0, 2167, 13000)
    assert (totals.subtotal_net, totals.shipping_net) == (10833, 0)
    assert draft.lines == (
        LineDraft(
            variant_id=jumper.pk,
            sku="JUMP-M",
            product_title="Merino Jumper",
            variant_label=jumper.label,
            unit_price=6500,
            quantity=2,
            net=10833,
            tax=2167,
            tax_rate=Decimal(20),
            list_price=6500,  # no sale
        ),
    )
    assert draft.lines[0].line_total == 13000
    assert not Order.objects.exists() and not OrderEvent.objects.exists()


@pytest.mark.django_db
def test_prepare_refuses_a_cart_that_moved_on_is_empty_or_gone(shipping, jumper, cart):
    with pytest.raises(CartChanged):
        prepare(cart, cart_version=2)
    CartLine.objects.filter(cart=cart).delete()
    with pytest.raises(CartEmpty):
        prepare(cart)
    with pytest.raises(CartEmpty):
        prepare(cart, cart_id=cart.pk + 1000)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_prepare_refuses_changed_prices_and_unknown_delivery(shipping, jumper, cart):
    seen = prices_seen(cart)
    jumper.price = 6900
    jumper.save(update_fields=["price"])
    with pytest.raises(PricesChanged):
        prepare(cart, seen_prices=seen)
    with pytest.raises(CartError, match="The delivery option you chose is not available for this address"):
        prepare(cart, shipping_method_code="carrier-pigeon")
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_write_records_the_draft(shipping, jumper, cart):
    draft = prepare(cart)

    order = order_write(draft=draft, user_id=None, email="ann@example.com", address=ADDRESS)

    order.refresh_from_db()
    # 13000 including VAT 2167 (13000*20/120 = 2166.67), delivered free; net 13000 - 2167 = 10833
    assert (order.checkout_key, order.total, order.tax_total, order.shipping_method_name) == (
        f"cart-{cart.pk}-v3",
        13000,
        2167,
        "Standard",
    )
    assert (order.subtotal, order.shipping_total, order.shipping_tax, order.prices_include_tax) == (
        10833,
        0,
        0,
        True,
    )
    assert list(order.taxes.values_list("rate", "net", "tax")) == [(20, 10833, 2167)]
    assert (order.full_name, order.city, order.postcode, order.country) == (
        "Ann Walker",
        "Kendal",
        "LA9 4DT",
        "GB",
    )
    assert list(
        OrderLine.objects.values_list("sku", "unit_price", "quantity", "line_total", "net", "tax", "tax_rate")
    ) == [("JUMP-M", 6500, 2, 13000, 10833, 2167, 20)]
    assert list(OrderEvent.objects.values_list("kind", "message")) == [("placed", "Placed for 13000 GBP")]


@pytest.mark.django_db
def test_write_refuses_a_cart_changed_after_it_was_priced(shipping, jumper, cart):
    draft = prepare(cart)
    cart_line_add(cart_id=cart.pk, variant_id=jumper.pk, quantity=1)  # another tab

    with pytest.raises(CartChanged):
        order_write(draft=draft, user_id=None, email="ann@example.com", address=ADDRESS)
    Cart.objects.filter(pk=cart.pk).delete()
    with pytest.raises(CartEmpty):
        order_write(draft=draft, user_id=None, email="ann@example.com", address=ADDRESS)
    assert not Order.objects.exists() and not OrderLine.objects.exists()
