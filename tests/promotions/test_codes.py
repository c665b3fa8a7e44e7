"""Discount codes: what they take off, why they do not apply, and uses held like stock."""

import threading
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import close_old_connections, transaction
from django.utils import timezone

from promotions.calc import Eligible, reduction
from promotions.exceptions import CodeAlreadyUsed, CodeNotApplicable, CodeUsedUp
from promotions.models import CodeUse, DiscountCode, Promotion
from promotions.services import (
    CartItem,
    Customer,
    code_normalize,
    code_use_consume,
    code_use_hold,
    code_use_release,
    codes_create,
    discount_for,
)
from tests.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory


def promo(code="SAVE10", *, limit=None, **fields) -> DiscountCode:
    fields = {"name": "Ten off", "reward": "percent", "percent": Decimal(10), **fields}
    if fields["reward"] != "percent":
        fields.pop("percent", None)
    return DiscountCode.objects.create(
        promotion=Promotion.objects.create(**fields), code=code, usage_limit=limit
    )


def items(*amounts, product_id=1, category_id=1):
    return [CartItem(amount=amount, product_id=product_id, category_id=category_id) for amount in amounts]


def test_a_percentage_is_rounded_once_and_shared_out_to_the_pennies():
    # 10 % of 4999 = 499.9 -> 500, shared 1999 : 3000 = 199.94 / 300.06 -> 199 + 300 = 499, +1 to .94.
    cut = reduction(
        reward="percent",
        percent=Fraction(10),
        amount=None,
        lines=[Eligible(1999, True), Eligible(3000, True)],
        delivery=0,
    )
    assert cut.lines == (200, 300) and cut.total == 500


def test_a_fixed_amount_covers_only_its_lines_and_never_more_than_they_cost():
    lines = [Eligible(2500, True), Eligible(4000, False)]
    assert reduction(reward="fixed", percent=None, amount=1000, lines=lines, delivery=495).lines == (1000, 0)
    assert reduction(reward="fixed", percent=None, amount=9000, lines=lines, delivery=495).lines == (2500, 0)


@pytest.mark.django_db
def test_codes_match_without_regard_to_case_or_spaces():
    promo("SAVE10")
    assert code_normalize("  save10 ") == "SAVE10"
    found = discount_for(code_text="  save10 ", items=items(2000), customer=None)
    assert (found.code, found.reduction.total) == ("SAVE10", 200)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "limit", "uses", "message"),
    [
        ({"is_active": False}, None, 0, "That code is not available at the moment."),
        ({"starts_at": timezone.now() + timedelta(days=1)}, None, 0, "That code cannot be used yet."),
        ({"ends_at": timezone.now() - timedelta(minutes=1)}, None, 0, "That code has expired."),
        ({}, 3, 3, "That code has been used up."),
        ({"min_spend": 5000}, None, 0, "That code needs a minimum spend of £50.00 (before delivery)."),
    ],
)
def test_why_a_code_does_not_apply_is_said(fields, limit, uses, message):
    code = promo(limit=limit, **fields)
    DiscountCode.objects.filter(pk=code.pk).update(uses=uses)
    with pytest.raises(CodeNotApplicable, match=message.replace("(", r"\(").replace(")", r"\)")):
        discount_for(code_text="SAVE10", items=items(2000), customer=None)


@pytest.mark.django_db
def test_a_code_for_other_items_an_unknown_code_and_an_empty_cart_are_refused():
    lamps = CategoryFactory(slug="lamps")
    code = promo()
    code.promotion.categories.add(lamps)
    with pytest.raises(CodeNotApplicable, match="not valid for the items in your cart"):
        discount_for(code_text="SAVE10", items=items(2000, category_id=lamps.pk + 1000), customer=None)
    with pytest.raises(CodeNotApplicable, match="We do not know that code"):
        discount_for(code_text="NOPE", items=items(2000), customer=None)
    with pytest.raises(CodeNotApplicable, match="Add something to your cart"):
        discount_for(code_text="SAVE10", items=[], customer=None)


@pytest.mark.django_db
def test_a_category_promotion_covers_its_subcategories():
    home = CategoryFactory(slug="home")
    lamps = CategoryFactory(slug="lamps", parent=home)
    code = promo()
    code.promotion.categories.add(home)
    lamp = ProductFactory(category=lamps)
    found = discount_for(
        code_text="SAVE10",
        items=[CartItem(2000, lamp.pk, lamps.pk), CartItem(3000, lamp.pk + 1, lamps.pk + 1000)],
        customer=None,
    )
    assert found.reduction.lines == (200, 0)


@pytest.mark.django_db
def test_a_use_is_held_consumed_and_given_back_once():
    code = promo(limit=1)
    discount = discount_for(code_text="SAVE10", items=items(2000), customer=None)
    first, second = OrderFactory(), OrderFactory()
    with transaction.atomic():
        code_use_hold(discount=discount, order_id=first.pk, customer=Customer(email="a@example.com"))
    with pytest.raises(CodeUsedUp), transaction.atomic():
        code_use_hold(discount=discount, order_id=second.pk, customer=Customer(email="b@example.com"))
    code_use_release(order_id=first.pk)
    code_use_release(order_id=first.pk)  # once only
    code.refresh_from_db()
    assert code.uses == 0
    with transaction.atomic():
        code_use_hold(discount=discount, order_id=second.pk, customer=Customer(email="b@example.com"))
    code_use_consume(order_id=second.pk)
    assert CodeUse.objects.get(order=second).status == "consumed"


@pytest.mark.django_db
def test_once_per_customer_counts_the_account_whatever_e_mail_it_types():
    promo(once_per_customer=True)
    user = UserFactory()
    discount = discount_for(code_text="SAVE10", items=items(2000), customer=None)
    with transaction.atomic():
        code_use_hold(
            discount=discount,
            order_id=OrderFactory(user=user).pk,
            customer=Customer(email="a@x.com", user_id=user.pk),
        )
    with pytest.raises(CodeAlreadyUsed), transaction.atomic():
        code_use_hold(
            discount=discount,
            order_id=OrderFactory(user=user).pk,
            customer=Customer(email="b@x.com", user_id=user.pk),
        )
    with pytest.raises(CodeAlreadyUsed):
        discount_for(code_text="SAVE10", items=items(2000), customer=Customer(email="", user_id=user.pk))


@pytest.mark.django_db
def test_once_per_customer_holds_by_account_or_e_mail():
    promo(once_per_customer=True)
    discount = discount_for(code_text="SAVE10", items=items(2000), customer=None)
    with transaction.atomic():
        code_use_hold(
            discount=discount, order_id=OrderFactory().pk, customer=Customer(email="ann@example.com")
        )
    with pytest.raises(CodeAlreadyUsed), transaction.atomic():
        code_use_hold(
            discount=discount, order_id=OrderFactory().pk, customer=Customer(email="ann@example.com")
        )
    with pytest.raises(CodeAlreadyUsed):
        discount_for(code_text="SAVE10", items=items(2000), customer=Customer(email="ann@example.com"))


@pytest.mark.django_db(transaction=True)
def test_a_limit_holds_when_many_orders_take_the_code_at_once():
    code = promo(limit=5)
    discount = discount_for(code_text="SAVE10", items=items(2000), customer=None)
    orders = [OrderFactory().pk for _ in range(24)]
    start, outcomes = threading.Barrier(len(orders)), []

    def take(order_id):
        try:
            start.wait()
            with transaction.atomic():
                code_use_hold(
                    discount=discount, order_id=order_id, customer=Customer(email=f"{order_id}@example.com")
                )
            outcomes.append("held")
        except CodeUsedUp:
            outcomes.append("used up")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=take, args=(order_id,)) for order_id in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code.refresh_from_db()
    assert sorted(outcomes).count("held") == 5 and outcomes.count("used up") == 19
    assert code.uses == 5 == CodeUse.objects.filter(code=code, status="held").count()


@pytest.mark.django_db
def test_a_batch_of_single_use_codes():
    promotion = promo().promotion
    made = codes_create(promotion=promotion, prefix="news-", count=50)
    assert len({code.code for code in made}) == 50
    assert all(code.code.startswith("NEWS-") and code.usage_limit == 1 for code in made)
