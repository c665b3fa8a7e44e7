"""Sales: promotions without a code that lower the unit prices of what they cover while they run.

How a sale prices a unit (rounded half up per unit, a fixed amount capped at the price, the best
of several sales, never their sum), which sales are live, and a sale through the cart, the
checkout and placement (against localstripe and the inventory API over HTTP): the order keeps the
sale price, the list price and the sale, VAT follows the sale price, codes apply to the sale
prices, a refund gives back what was paid, and the audit checks it all.

The shop used below, prices including 20 % VAT, delivered to the UK by standard delivery (£4.95,
free from £75.00 of goods):
    Merino Jumper (M)  £65.00, on the 20 % "Winter sale": 6500 × 20 % = 1300 off -> £52.00
    Enamel Mug         £12.00, on no sale
"""

import re
import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from checkout.audit import audit_run
from checkout.models import Cart, Order, OrderDiscount, Payment, Refund
from inventory.models import Reservation, Stock
from promotions.models import CodeUse, DiscountCode, Promotion
from promotions.sales import Sale, Sales, live_sales
from promotions.services import CartItem, discounts_for
from tests.audit import assert_audit_clean
from tests.factories import (
    CategoryFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
    order_codes,
    product_with_stock,
)
from tests.helpers import (
    ADDRESS,
    charge_in_stripe,
    checkout_form,
    deliver,
    event,
    fill_cart,
    place,
    stripe_api,
)

D = Decimal


def a_sale(
    name="Winter sale", *, percent=None, amount=None, products=(), categories=(), **fields
) -> Promotion:
    """Return a running sale of `percent` or `amount` off each unit of what it covers."""
    reward = "percent" if percent is not None else "fixed"
    promotion = Promotion.objects.create(
        name=name,
        kind=Promotion.Kind.SALE,
        reward=reward,
        percent=D(percent) if percent is not None else None,
        amount=amount,
        **fields,
    )
    promotion.products.set(products)
    promotion.categories.set(categories)
    return promotion


def a_code(text="SAVE10", *, name="Ten off", percent=10, **fields) -> DiscountCode:
    promotion = Promotion.objects.create(name=name, reward="percent", percent=D(percent), **fields)
    return DiscountCode.objects.create(promotion=promotion, code=text)


def apply_code(client, text):
    return client.post("/cart/code/", {"code": text, "next": "/cart/"}, follow=True)


def body_of(response) -> str:
    return " ".join(response.content.decode().split())


def was(price: str, list_price: str) -> str:
    """Return how a price lowered by a sale is shown."""
    return f'<span class="sale-price">{price}</span> <span class="was">was <s>{list_price}</s></span>'


@pytest.fixture
def mug():
    return product_with_stock(title="Enamel Mug", price=1200).variants.get()


@pytest.fixture
def winter(jumper) -> Promotion:
    """The 20 % Winter sale on the jumper's product."""
    return a_sale(percent=20, products=[jumper.product])


# How a sale prices a unit ---------------------------------------------------------------------


def sale(promotion_id=1, *, percent=None, amount=None, **fields) -> Sale:
    return Sale(
        promotion_id=promotion_id,
        name=f"Sale {promotion_id}",
        percent=D(percent) if percent is not None else None,
        amount=amount,
        **fields,
    )


@pytest.mark.parametrize(
    ("percent", "price", "off"),
    [
        (15, 1999, 300),  # 1999 × 15 % = 299.85 -> 300
        (10, 1005, 101),  # 100.5 -> 101: a half goes up
        (10, 1004, 100),  # 100.4 -> 100
        ("12.5", 1004, 126),  # 125.5 -> 126
        ("33.33", 999, 333),  # 332.9667 -> 333
        ("0.01", 49, 0),  # 0.0049 -> 0: nothing off a cheap unit
        ("99.99", 1, 1),  # 0.9999 -> 1: never more than the price
    ],
)
def test_a_percentage_off_is_rounded_half_up_per_unit(percent, price, off):
    sales = Sales(running=(sale(percent=percent),))
    priced = sales.price(price=price, product_id=7, category_id=3)
    assert (priced.price, priced.list_price) == (price - off, price)
    assert priced.was == (price if off else None)
    assert (priced.sale is not None) == bool(off)


def test_an_amount_off_is_capped_at_the_price():
    fiver = sale(amount=500)
    assert fiver.off(1200) == 500 and fiver.off(300) == 300
    sales = Sales(running=(fiver,))
    assert sales.price(price=1200, product_id=1, category_id=None).price == 700
    cheap = sales.price(price=300, product_id=1, category_id=None)
    assert (cheap.price, cheap.was) == (0, 300)  # free, never below nothing


def test_of_two_sales_the_one_taking_most_off_applies_never_both():
    tenth, fiver = sale(1, percent=10), sale(2, amount=500)
    sales = Sales(running=(tenth, fiver))
    # At £40.00: 10 % is 400, £5.00 is 500: the £5.00 applies -> 3500 (not 4000 - 400 - 500 = 3100).
    at_40 = sales.price(price=4000, product_id=1, category_id=None)
    assert (at_40.price, at_40.sale) == (3500, fiver)
    # At £60.00: 10 % is 600 -> 5400.
    at_60 = sales.price(price=6000, product_id=1, category_id=None)
    assert (at_60.price, at_60.sale) == (5400, tenth)
    # At £50.00 both take 500: the first one applies.
    assert sales.price(price=5000, product_id=1, category_id=None).sale == tenth


def test_a_sale_covers_only_what_it_chose():
    chosen = sale(percent=10, product_ids=frozenset({5}), category_ids=frozenset({8, 9}))
    sales = Sales(running=(chosen,))
    assert sales.price(price=1000, product_id=5, category_id=1).price == 900  # the product
    assert sales.price(price=1000, product_id=6, category_id=9).price == 900  # its category
    outside = sales.price(price=1000, product_id=6, category_id=1)
    assert (outside.price, outside.sale, outside.was) == (1000, None, None)
    assert not Sales() and Sales().price(price=1000, product_id=5, category_id=8).price == 1000


@pytest.mark.django_db
def test_a_sale_on_a_category_covers_every_subcategory_below_it():
    clothing = CategoryFactory(name="Clothing")
    knitwear = CategoryFactory(name="Knitwear", parent=clothing)
    socks = CategoryFactory(name="Socks", parent=knitwear)
    books = CategoryFactory(name="Books")
    promotion = a_sale(percent=25, categories=[clothing])

    (running,) = live_sales().running

    assert (running.promotion_id, running.name, running.percent) == (promotion.pk, "Winter sale", D(25))
    assert running.category_ids == {clothing.pk, knitwear.pk, socks.pk}
    sales = live_sales()
    # 2499 × 25 % = 624.75 -> 625 off.
    assert sales.price(price=2499, product_id=1, category_id=socks.pk).price == 1874
    assert sales.price(price=2499, product_id=1, category_id=books.pk).price == 2499


@pytest.mark.django_db
def test_a_sale_choosing_nothing_covers_everything():
    books = CategoryFactory(name="Books")
    a_sale(amount=250)

    (running,) = live_sales().running

    assert running.covers_all and (running.product_ids, running.category_ids) == (frozenset(), frozenset())
    assert live_sales().price(price=799, product_id=123, category_id=books.pk).price == 549
    assert live_sales().price(price=799, product_id=456, category_id=None).price == 549


@pytest.mark.django_db
def test_only_active_started_unended_sales_are_live():
    now = timezone.now()
    hour = timedelta(hours=1)
    running = a_sale("Running", percent=10, starts_at=now - hour, ends_at=now + hour)
    starts_now = a_sale("Starts now", percent=10, starts_at=now)
    a_sale("Scheduled", percent=10, starts_at=now + hour)
    a_sale("Ended", percent=10, starts_at=now - 2 * hour, ends_at=now - hour)
    a_sale("Ends now", percent=10, ends_at=now)
    a_sale("Paused", percent=10, is_active=False)
    Promotion.objects.create(name="A code's", reward="percent", percent=D(10))  # not a sale

    assert [found.promotion_id for found in live_sales(now).running] == [running.pk, starts_now.pk]
    assert [found.name for found in live_sales(now + 2 * hour).running] == ["Starts now", "Scheduled"]


# The cart and the checkout page ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_cart_shows_the_sale_price_what_it_was_and_the_saving(client, shipping, jumper, winter, mug):
    fill_cart(client, (jumper, 1), (mug, 1))

    response = client.get("/cart/")

    assert response.status_code == 200
    body = body_of(response)
    assert body.count(was("£52.00", "£65.00")) == 2  # the unit price and the line
    assert '<br><span class="muted">Winter sale</span>' in body
    assert "<td>£12.00</td>" in body  # the mug, on no sale
    # Goods £52.00 + £12.00 = £64.00; the sale saves 6500 - 5200 = 1300.
    assert 'Sale prices save you</th><td class="num" data-total="sale">£13.00</td>' in body
    assert '<td class="num">£64.00</td></tr>' in body
    # At sale prices the goods are under £75.00: delivery is not free (at list prices, £77.00, it was).
    assert "Spend £11.00 more for free" in body

    checkout = client.get("/checkout/")
    assert checkout.status_code == 200
    page = body_of(checkout)
    assert was("£52.00", "£65.00") in page
    assert 'data-total="subtotal">£64.00<' in page
    # £64.00 + £4.95 delivery = £68.95.
    assert 'data-total="total">£68.95<' in page
    assert '<th>Sale prices save you</th><td class="num" data-total="sale">£13.00</td>' in page


@pytest.mark.django_db
def test_the_cart_rounds_each_unit_not_the_line(client, shipping):
    lamp = product_with_stock(title="Desk Lamp", price=1005).variants.get()
    a_sale(percent=10, products=[lamp.product])
    fill_cart(client, (lamp, 2))

    body = body_of(client.get("/cart/"))

    # 1005 × 10 % = 100.5 -> 101 off each unit: £9.04, two for £18.08 (not 2010 - 201 = 1809),
    # saving 2 × 101 = 202.
    assert was("£9.04", "£10.05") in body and was("£18.08", "£20.10") in body
    assert 'data-total="sale">£2.02</td>' in body


# Placing an order at sale prices --------------------------------------------------------------


def test_an_order_keeps_the_sale_price_the_list_price_and_the_sale(
    outside, shipping, client, jumper, mug, winter
):
    fill_cart(client, (jumper, 1), (mug, 1))

    response = place(client, Cart.objects.get().version)

    assert response.status_code == 302, body_of(response)[:3000]
    order = Order.objects.get()
    lines = [
        (
            line.sku,
            line.unit_price,
            line.list_price,
            line.sale_id,
            line.line_total,
            line.discount,
            line.net,
            line.tax,
        )
        for line in order.lines.order_by("id")
    ]
    # VAT is inside the sale price: 5200 / 6 = 866.67 -> 867, net 4333; the mug 1200 / 6 = 200.
    assert lines == [
        ("JUMP-M", 5200, 6500, winter.pk, 5200, 0, 4333, 867),
        (mug.sku, 1200, 1200, None, 1200, 0, 1000, 200),
    ]
    # Goods £64.00 at sale prices are under £75.00: delivery £4.95 holds 495 / 6 = 82.5 -> 83 VAT,
    # net 412. Total 6400 + 495 = 6895; VAT 867 + 200 + 83 = 1150; net goods 4333 + 1000 = 5333.
    assert (order.subtotal, order.shipping_total, order.shipping_tax, order.tax_total, order.total) == (
        5333,
        412,
        83,
        1150,
        6895,
    )
    assert order.subtotal + order.shipping_total + order.tax_total == order.total
    assert order.discount_total == 0 and order_codes(order) == ()  # a sale is not a code's discount
    assert list(
        order.discounts.values_list("kind", "promotion_id", "name", "code", "amount", "delivery")
    ) == [("sale", winter.pk, "Winter sale", "", 1300, 0)]
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")
    assert (intent["amount"], intent["currency"]) == (6895, "gbp")
    assert_audit_clean()

    paid = charge_in_stripe(outside, order)
    assert deliver(client, event("payment_intent.succeeded", paid)).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    shown = body_of(client.get(f"/order/{order.public_token}/"))
    assert re.search(r"Winter sale: saved at the sale prices above</th><td class=\"num\">£13.00</td>", shown)
    assert_audit_clean()


def test_with_prices_excluding_vat_the_vat_is_added_to_the_sale_price(
    outside, shipping, client, jumper, winter
):
    outside.PRICES_INCLUDE_TAX = False
    fill_cart(client, (jumper, 1))

    response = place(client, Cart.objects.get().version)

    assert response.status_code == 302, body_of(response)[:3000]
    order = Order.objects.get()
    line = order.lines.get()
    # 20 % on the sale price 5200 = 1040 (on the list price it would be 1300); delivery 495 × 20 % = 99.
    # Total 5200 + 495 + 1040 + 99 = 6834.
    assert (line.unit_price, line.list_price, line.net, line.tax) == (5200, 6500, 5200, 1040)
    assert (order.subtotal, order.shipping_total, order.shipping_tax, order.tax_total, order.total) == (
        5200,
        495,
        99,
        1139,
        6834,
    )
    assert list(order.discounts.values_list("kind", "amount")) == [("sale", 1300)]
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["amount"] == 6834
    assert_audit_clean()


def page_form(body: str) -> dict[str, str]:
    """Return the hidden fields the refused checkout page carries, to place again from it."""
    return {
        "cart_version": re.search(r'name="cart_version" value="(\d+)"', body).group(1),
        "quote": re.search(r'name="quote" value="([^"]+)"', body).group(1),
    }


def end_sale(promotion: Promotion) -> None:
    Promotion.objects.filter(pk=promotion.pk).update(ends_at=timezone.now() - timedelta(seconds=1))


def pause_sale(promotion: Promotion) -> None:
    Promotion.objects.filter(pk=promotion.pk).update(is_active=False)


@pytest.mark.parametrize("stop", [end_sale, pause_sale], ids=["ended", "paused"])
def test_a_sale_that_stops_after_the_checkout_page_is_shown_before_placing(
    outside, shipping, client, jumper, winter, stop
):
    fill_cart(client, (jumper, 1))
    form = checkout_form(client, Cart.objects.get().version)  # the page shows £52.00 + £4.95 = £56.95
    stop(winter)

    refused = client.post("/checkout/", form)

    assert refused.status_code == 409
    body = body_of(refused)
    assert (
        "Prices changed since you opened this page: Merino Jumper (M) now costs £65.00 (it was £52.00)."
        in body
    )
    # £65.00 + £4.95 = £69.95, VAT 6500 / 6 = 1083.33 -> 1083 and 83 on delivery = £11.66.
    assert "Your total is now £69.95 (it was £56.95)." in body
    assert 'data-total="total">£69.95<' in body and 'data-total="tax">£11.66<' in body
    assert 'value="1 High Street"' in body
    assert not Order.objects.exists() and not OrderDiscount.objects.exists()
    assert not Payment.objects.exists() and not Reservation.objects.exists()
    assert Stock.objects.filter(variant=jumper).values_list("on_hand", "allocated").get() == (3, 0)

    placed = client.post("/checkout/", {**ADDRESS, **page_form(refused.content.decode())})

    assert placed.status_code == 302 and placed["Location"].endswith("/pay/")
    order = Order.objects.get()
    line = order.lines.get()
    assert (line.unit_price, line.list_price, line.sale_id, line.tax) == (6500, 6500, None, 1083)
    assert (order.total, order.tax_total) == (6995, 1166) and not order.discounts.exists()
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["amount"] == 6995
    assert_audit_clean()


# Codes on sale prices -------------------------------------------------------------------------


def test_a_code_takes_its_percentage_of_the_sale_price(outside, shipping, client, jumper, winter):
    a_code()
    fill_cart(client, (jumper, 1))

    applied = apply_code(client, "save10")

    # 10 % of the sale price 5200 = 520 (not 10 % of 6500).
    assert "Ten off: £5.20 off." in body_of(applied)
    assert '<td class="num" data-total="discount">−£5.20</td>' in body_of(applied)
    response = place(client, Cart.objects.get().version)
    assert response.status_code == 302, body_of(response)[:3000]
    order = Order.objects.get()
    line = order.lines.get()
    # 5200 - 520 = 4680 holds 4680 / 6 = 780 VAT, net 3900; delivery 495 (83 VAT, net 412).
    # Total 4680 + 495 = 5175, VAT 780 + 83 = 863.
    assert (line.unit_price, line.list_price, line.sale_id, line.discount, line.net, line.tax) == (
        5200,
        6500,
        winter.pk,
        520,
        3900,
        780,
    )
    assert (order.discount_total, order.subtotal, order.tax_total, order.total) == (520, 3900, 863, 5175)
    rows = order.discounts.order_by("kind").values_list("kind", "code", "amount")
    assert list(rows) == [("code", "SAVE10", 520), ("sale", "", 1300)]
    assert CodeUse.objects.get(order=order).status == "held"
    intent = stripe_api(outside, "GET", f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["amount"] == 5175
    assert_audit_clean()


@pytest.mark.django_db
def test_a_code_not_for_sale_items_leaves_them_at_their_sale_price(client, shipping, jumper, winter, mug):
    a_code("FULLPRICE", name="Full price ten", exclude_sale_items=True)
    fill_cart(client, (jumper, 1), (mug, 1))

    applied = apply_code(client, "fullprice")

    # Only the mug: 10 % of 1200 = 120. Goods 5200 + 1200 - 120 = 6280.
    body = body_of(applied)
    assert "Full price ten: £1.20 off." in body
    assert '<td class="num" data-total="discount">−£1.20</td>' in body
    assert '<td class="num" data-total="goods">£62.80</td>' in body
    assert Cart.objects.get().discount_codes == ["FULLPRICE"]


@pytest.mark.django_db
def test_a_code_not_for_sale_items_is_refused_when_only_sale_items_are_in_the_cart(
    client, shipping, jumper, winter
):
    a_code("FULLPRICE", name="Full price ten", exclude_sale_items=True)
    fill_cart(client, (jumper, 1))

    refused = apply_code(client, "FULLPRICE")

    assert refused.status_code == 200
    assert "That code is not valid for items on sale or the other items in your cart." in body_of(refused)
    assert Cart.objects.get().discount_codes == []
    assert 'data-total="discount"' not in body_of(refused) and was("£52.00", "£65.00") in body_of(refused)


@pytest.mark.django_db
def test_codes_see_the_goods_at_their_sale_prices(jumper, winter, mug):
    a_code("FULLPRICE", name="Full price ten", exclude_sale_items=True)
    a_code("SPEND60", name="Over sixty", min_spend=6000)
    items = [
        CartItem(
            amount=5200, product_id=jumper.product_id, category_id=jumper.product.category_id, on_sale=True
        ),
        CartItem(amount=1200, product_id=mug.product_id, category_id=mug.product.category_id, on_sale=False),
    ]

    found = discounts_for(codes=["FULLPRICE"], items=items, customer=None)

    assert [(item.code, item.reduction.lines) for item in found.applied] == [("FULLPRICE", (0, 120))]
    # The minimum spend counts the sale price: 5200 alone is under £60.00 (6500 would not be).
    alone = discounts_for(codes=["SPEND60"], items=items[:1], customer=None)
    assert alone.applied == ()
    assert [(item.code, item.message) for item in alone.refused] == [
        ("SPEND60", "That code needs a minimum spend of £60.00 (before delivery).")
    ]


# Refunds --------------------------------------------------------------------------------------


@pytest.fixture
def staff(transactional_db) -> Client:
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return staff


def test_refunding_a_sale_line_gives_back_its_sale_price(
    outside, shipping, client, staff, jumper, mug, winter
):
    fill_cart(client, (jumper, 1), (mug, 1))
    assert place(client, Cart.objects.get().version).status_code == 302
    order = Order.objects.get()
    paid = charge_in_stripe(outside, order)
    assert paid["amount"] == 6895
    assert deliver(client, event("payment_intent.succeeded", paid)).status_code == 200
    jumper_line = order.lines.get(sku="JUMP-M")
    detail = staff.get(f"/dashboard/orders/{order.number}/")
    assert detail.status_code == 200
    assert "(1 bought, £52.00 in all)" in body_of(detail)  # offered at what was paid, not £65.00

    response = staff.post(
        f"/dashboard/orders/{order.number}/refund/",
        {
            "amount": "",
            "reason": "damaged",
            "request_key": secrets.token_hex(8),
            f"line-{jumper_line.pk}": "1",
        },
        follow=True,
    )

    assert response.status_code == 200
    # The jumper's £52.00, holding VAT 5200 / 6 = 866.67 -> 867.
    assert f"Refunded £52.00 (of which VAT £8.67) on order {order.number}." in body_of(response)
    made = Refund.objects.get()
    assert (made.amount, made.tax, made.status) == (5200, 867, Refund.Status.SUCCEEDED)
    assert [(part.order_line, part.quantity, part.amount, part.tax) for part in made.lines.all()] == [
        (jumper_line, 1, 5200, 867)
    ]
    assert stripe_api(outside, "GET", f"refunds/{made.stripe_refund_id}")["amount"] == 5200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    assert_audit_clean()


# The audit ------------------------------------------------------------------------------------


def sale_problems() -> list[str]:
    return next(result.problems for result in audit_run().results if result.name == "sale-prices")


def sold_on(
    order: Order, promotion: Promotion | None, *, unit_price=800, list_price=1000, quantity=1, row=None
):
    """Add a line sold at `unit_price` (list price `list_price`) on `promotion`, with the sale's
    row on the order saying it saved `row` (none when None)."""
    line = OrderLineFactory(
        order=order,
        sku="MUG",
        unit_price=unit_price,
        list_price=list_price,
        quantity=quantity,
        sale=promotion,
    )
    if row is not None:
        OrderDiscount.objects.create(
            order=order, promotion=promotion, kind="sale", name=promotion.name, amount=row
        )
    return line


@pytest.mark.django_db
def test_the_audit_passes_lines_sold_on_a_sale_that_ran_then():
    promotion = a_sale(percent=20, starts_at=timezone.now() - timedelta(days=1))
    order = OrderFactory()
    # Two at 1000 less 20 % = 800: 2 × 200 = 400 saved.
    sold_on(order, promotion, quantity=2, row=400)
    OrderLineFactory(order=order, unit_price=500)  # on no sale: its list price is its price
    assert sale_problems() == []


@pytest.mark.django_db
def test_the_audit_reports_a_line_below_its_list_price_with_no_sale():
    order = OrderFactory()
    sold_on(order, None)
    assert sale_problems() == [
        f"Order {order.number}'s MUG was sold at £8.00 (list price £10.00) without a sale running then."
    ]


@pytest.mark.django_db
def test_the_audit_reports_a_line_on_a_sale_that_had_not_started_or_had_ended():
    order = OrderFactory()
    later = a_sale("Later", percent=20, starts_at=order.created_at + timedelta(hours=1))
    sold_on(order, later, row=200)
    message = f"Order {order.number}'s MUG was sold at £8.00 (list price £10.00) without a sale running then."
    assert sale_problems() == [message]
    Promotion.objects.filter(pk=later.pk).update(
        starts_at=order.created_at - timedelta(days=2), ends_at=order.created_at - timedelta(days=1)
    )
    assert sale_problems() == [message]
    Promotion.objects.filter(pk=later.pk).update(ends_at=order.created_at + timedelta(days=1))
    assert sale_problems() == []


@pytest.mark.django_db
def test_the_audit_reports_a_sale_row_that_disagrees_with_the_lines():
    promotion = a_sale(percent=20, starts_at=timezone.now() - timedelta(days=1))
    wrong = OrderFactory()
    sold_on(wrong, promotion, quantity=2, row=200)  # the lines saved 2 × 200 = 400
    missing = OrderFactory()
    sold_on(missing, promotion)  # 200 saved, and no row for it
    stray = OrderFactory()
    OrderDiscount.objects.create(
        order=stray, promotion=promotion, kind="sale", name="Winter sale", amount=150
    )

    problems = sale_problems()

    assert sorted(problems) == sorted(
        f"Order {order.number}'s sale savings are not what its lines were sold below their list prices."
        for order in (wrong, missing, stray)
    )
