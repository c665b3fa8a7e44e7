"""The migration to codes kept per order carries what was there over exactly: a cart's code into
its list, each order line's price into its list price, and an order's one code into a row of what
it took off (with the part off delivery)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("checkout", "0012_cart_discount_code_order_discount_code_and_more"),
    ("promotions", "0002_promotionevent"),
]
AFTER = [
    ("checkout", "0013_order_discounts_and_sale_prices"),
    ("promotions", "0003_sales_and_combinable_codes"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest():
    """Leave the database migrated to the end, as the tests after this one expect it."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_one_code_of_carts_and_orders_is_carried_into_the_new_rows(back_to_the_latest):
    old = _migrate(BEFORE)
    Order, OrderLine = old.get_model("checkout", "Order"), old.get_model("checkout", "OrderLine")
    Cart = old.get_model("checkout", "Cart")
    Promotion, DiscountCode = (
        old.get_model("promotions", "Promotion"),
        old.get_model("promotions", "DiscountCode"),
    )
    CodeUse = old.get_model("promotions", "CodeUse")
    promotion = Promotion.objects.create(name="Ten off", reward="free_delivery")
    code = DiscountCode.objects.create(promotion=promotion, code="SHIP", uses=1)
    money = {"subtotal": 1000, "shipping_total": 0, "tax_total": 200, "total": 1200, "currency": "GBP"}
    address = {"full_name": "Ann", "line1": "1 Road", "city": "Kendal", "postcode": "LA9", "country": "GB"}
    order = Order.objects.create(
        number="NW1", checkout_key="k1", email="a@example.com", shipping_method_code="standard",
        shipping_method_name="Standard", discount_code="SHIP", discount_name="Free delivery",
        discount_total=595, **money, **address,
    )  # fmt: skip
    plain = Order.objects.create(
        number="NW2", checkout_key="k2", email="b@example.com", shipping_method_code="standard",
        shipping_method_name="Standard", **money, **address,
    )  # fmt: skip
    # £1.00 off the line, the rest (£4.95) off delivery.
    OrderLine.objects.create(order=order, sku="A", product_title="A", unit_price=1100, quantity=1,
                             line_total=1100, net=1000, tax=200, discount=100)  # fmt: skip
    OrderLine.objects.create(order=plain, sku="B", product_title="B", unit_price=1200, quantity=1,
                             line_total=1200, net=1000, tax=200)  # fmt: skip
    CodeUse.objects.create(code=code, promotion=promotion, order=order, status="consumed")
    with_code, without = Cart.objects.create(discount_code="SHIP"), Cart.objects.create()

    new = _migrate(AFTER)
    Cart, OrderLine = new.get_model("checkout", "Cart"), new.get_model("checkout", "OrderLine")
    OrderDiscount = new.get_model("checkout", "OrderDiscount")
    assert Cart.objects.get(pk=with_code.pk).discount_codes == ["SHIP"]
    assert Cart.objects.get(pk=without.pk).discount_codes == []
    assert sorted(OrderLine.objects.values_list("sku", "unit_price", "list_price", "sale_id")) == [
        ("A", 1100, 1100, None),
        ("B", 1200, 1200, None),
    ]
    rows = list(
        OrderDiscount.objects.values_list(
            "order_id", "promotion_id", "kind", "code", "name", "amount", "delivery"
        )
    )
    assert rows == [(order.pk, promotion.pk, "code", "SHIP", "Free delivery", 595, 495)]
    assert new.get_model("promotions", "Promotion").objects.get().kind == "code"
