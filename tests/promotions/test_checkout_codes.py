"""A discount code through the cart, the checkout and placement, against localstripe and the inventory API."""

from decimal import Decimal

import pytest

from checkout.models import Cart, Order
from promotions.models import CodeUse, DiscountCode, Promotion
from tests.factories import OrderFactory, order_codes
from tests.helpers import checkout_form, fill_cart, place, stripe_get


def code(text="SAVE10", *, limit=None, **fields) -> DiscountCode:
    fields = {"name": "Ten off", "reward": "percent", "percent": Decimal(10), **fields}
    if fields["reward"] != "percent":
        fields.pop("percent")
    return DiscountCode.objects.create(
        promotion=Promotion.objects.create(**fields), code=text, usage_limit=limit
    )


def apply(client, text, next_url="/cart/"):
    return client.post("/cart/code/", {"code": text, "next": next_url}, follow=True)


@pytest.mark.django_db
def test_the_cart_says_at_once_what_a_code_takes_off_or_why_not(client, shipping, jumper):
    code(min_spend=10000)
    code("FIVER", name="Five off", reward="fixed", amount=500)
    fill_cart(client, (jumper, 1))
    refused = apply(client, " save10 ")
    assert refused.status_code == 200
    assert "That code needs a minimum spend of £100.00 (before delivery)." in refused.content.decode()
    assert Cart.objects.get().discount_codes == []
    applied = apply(client, "fiver")
    text = applied.content.decode()
    assert "Five off: £5.00 off." in text
    assert '<td class="num" data-total="discount">−£5.00</td>' in text
    removed = client.post("/cart/code/", {"remove": "1"}, follow=True)
    assert "Discount code removed." in removed.content.decode() and Cart.objects.get().discount_codes == []


@pytest.mark.django_db
def test_guessing_codes_is_slowed_down(client, settings, shipping, jumper):
    settings.RATE_LIMIT_DISCOUNT_CODE = "3/10m"
    fill_cart(client, (jumper, 1))
    for guess in ("A1", "A2", "A3"):
        assert "We do not know that code" in apply(client, guess).content.decode()
    slowed = apply(client, "A4")
    assert slowed.status_code == 200
    assert "Too many discount codes tried in a short time." in slowed.content.decode()
    assert Cart.objects.get().discount_codes == []


def test_an_order_with_a_code_pays_the_discounted_total_and_vat_follows(outside, shipping, client, jumper):
    code()
    version = fill_cart(client, (jumper, 1))
    apply(client, "SAVE10")
    version = Cart.objects.get().version
    response = place(client, version)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    # £65.00 less 10 % = £58.50, incl. 20 % VAT: 5850 / 6 = 975; delivery £4.95 (under £75 now):
    # 495 / 6 = 82.5 -> 83. Total 5850 + 495 = 6345, VAT 975 + 83 = 1058.
    assert (order_codes(order), order.discount_total, order.total, order.tax_total) == (
        ("SAVE10",),
        650,
        6345,
        1058,
    )
    line = order.lines.get()
    assert (line.line_total, line.discount, line.net, line.tax) == (6500, 650, 4875, 975)
    intent = stripe_get(outside, f"payment_intents/{order.payments.get().payment_intent_id}")
    assert intent["amount"] == 6345
    assert CodeUse.objects.get(order=order).status == "held"
    assert Cart.objects.get().discount_codes == []  # the code went with the order


def test_a_shopper_who_loses_the_race_for_the_last_use_is_told_before_paying(
    outside, shipping, client, jumper
):
    last = code(limit=1)
    version = fill_cart(client, (jumper, 1))
    apply(client, "SAVE10")
    form = checkout_form(client, Cart.objects.get().version)
    DiscountCode.objects.filter(pk=last.pk).update(uses=1)  # another shopper's order took it meanwhile
    CodeUse.objects.create(code=last, promotion=last.promotion, order=OrderFactory())

    response = client.post("/checkout/", form)

    assert response.status_code == 409
    text = " ".join(response.content.decode().split())
    assert "That code has been used up." in text
    assert not Order.objects.exclude(number__startswith="NW9").exists()
    assert version  # the cart is kept


def test_an_order_canceled_at_placement_gives_its_code_use_back(outside, shipping, client, jumper, settings):
    once = code(limit=1)
    fill_cart(client, (jumper, 1))
    apply(client, "SAVE10")
    settings.INVENTORY_API_URL = "http://127.0.0.1:9/inventory/v1"  # the stock cannot be reserved
    response = place(client, Cart.objects.get().version)
    assert response.status_code in (409, 503)
    order = Order.objects.get()
    assert order.status == "canceled"
    once.refresh_from_db()
    assert once.uses == 0 and CodeUse.objects.get(order=order).status == "released"


def test_a_code_changed_while_the_checkout_is_open_is_shown_before_placing(outside, shipping, client, jumper):
    code()
    fill_cart(client, (jumper, 1))
    form = checkout_form(client, Cart.objects.get().version)  # the page shows £69.95, no code
    apply(client, "SAVE10")  # in another tab

    response = client.post("/checkout/", form)

    assert response.status_code == 409
    assert "Your cart changed (perhaps in another tab)" in response.content.decode()
    assert not Order.objects.exists()
    again = client.post("/checkout/", checkout_form(client, Cart.objects.get().version))
    assert again.status_code == 302
    assert Order.objects.get().discount_total == 650
