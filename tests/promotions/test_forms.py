"""What staff may type for a promotion and its codes: each bad input refused with its message,
good input cleaned to what is stored (minor units, upper-case codes)."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from promotions.forms import CodeBatchForm, DiscountCodeForm, PromotionForm
from promotions.models import DiscountCode, Promotion
from promotions.texts import reward_text
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

PERCENT = "Enter a percentage above 0 and at most 100."
LIMIT = "Enter a usage limit of 1 or more, or leave it blank for no limit."
SHAPE = "A code is 3 to 40 letters, digits, - or _ (no spaces), starting with a letter or digit."
COUNT = "Enter how many codes to make, from 1 to 5,000."


def promotion_data(**fields) -> dict:
    data = {"name": "Summer sale", "reward": "percent", "percent": "10", "amount": "", "min_spend": ""}
    data |= {"starts_at": "", "ends_at": "", "is_active": "on", "note": ""}
    return data | fields


def errors_of(form) -> dict:
    assert not form.is_valid()
    return {field: list(messages) for field, messages in form.errors.items()}


@pytest.mark.parametrize("typed", ["0", "-5", "100.01", "1000", "ten", "NaN", "Infinity", ""])
def test_a_percentage_above_0_and_at_most_100_is_asked_for(typed):
    assert errors_of(PromotionForm(promotion_data(percent=typed))) == {"percent": [PERCENT]}


def test_a_percentage_has_at_most_two_decimal_places():
    assert errors_of(PromotionForm(promotion_data(percent="12.345"))) == {
        "percent": ["Give the percentage to at most two decimal places, e.g. 12.5."]
    }


def test_percentages_from_just_above_0_to_100_are_taken():
    for typed, stored in (("0.01", Decimal("0.01")), ("12.5", Decimal("12.5")), ("100", Decimal(100))):
        form = PromotionForm(promotion_data(percent=typed))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["percent"] == stored and form.cleaned_data["amount"] is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "Enter an amount above 0."),
        ("-1.00", "Enter an amount above 0."),
        ("five", "Enter an amount as a number, e.g. 5.00."),
        ("5.001", "Use at most 2 decimal places."),
        ("100000.01", "An amount of that size is not possible: at most £100,000.00."),
        ("", "Enter the amount off, e.g. 5.00."),
    ],
)
def test_an_amount_off_is_a_positive_sum_in_pounds(typed, message):
    form = PromotionForm(promotion_data(reward="fixed", percent="", amount=typed))
    assert errors_of(form) == {"amount": [message]}


def test_an_amount_typed_in_pounds_is_stored_in_pence():
    form = PromotionForm(promotion_data(reward="fixed", percent="", amount="5.00", min_spend="25.50"))
    assert form.is_valid(), form.errors
    promotion = form.save()
    assert (promotion.amount, promotion.min_spend, promotion.percent) == (500, 2550, None)
    assert reward_text(promotion) == "£5.00 off"


def test_each_reward_takes_only_its_own_value():
    assert errors_of(PromotionForm(promotion_data(amount="5.00"))) == {
        "amount": ["A percentage off takes no amount: leave the amount blank."]
    }
    assert errors_of(PromotionForm(promotion_data(reward="fixed", amount="5.00"))) == {
        "percent": ["An amount off takes no percentage: leave the percentage blank."]
    }
    assert errors_of(PromotionForm(promotion_data(reward="free_delivery", amount="5.00"))) == {
        "percent": ["Free delivery takes no percentage or amount: leave it blank."],
        "amount": ["Free delivery takes no percentage or amount: leave it blank."],
    }
    free = PromotionForm(promotion_data(reward="free_delivery", percent=""))
    assert free.is_valid(), free.errors
    assert reward_text(free.save()) == "Free delivery"


def test_the_reward_and_the_name_are_asked_for():
    assert errors_of(PromotionForm(promotion_data(name="  ", reward="half"))) == {
        "name": ["Give the promotion a name shoppers will read."],
        "reward": ["Choose the reward: a percentage off, an amount off or free delivery."],
    }
    assert errors_of(PromotionForm(promotion_data(name="x" * 121))) == {
        "name": ["A name is at most 120 characters."]
    }


@pytest.mark.parametrize(
    ("starts", "ends"), [("2026-06-30T09:00", "2026-06-01T09:00"), ("2026-06-01T09:00", "2026-06-01T09:00")]
)
def test_the_end_must_be_after_the_start(starts, ends):
    form = PromotionForm(promotion_data(starts_at=starts, ends_at=ends))
    assert errors_of(form) == {"ends_at": ["The end must be after the start."]}


def test_dates_are_the_shops_local_time_and_a_bad_one_is_named():
    form = PromotionForm(promotion_data(starts_at="2026-07-01T09:00", ends_at="2026-07-31 23:59"))
    assert form.is_valid(), form.errors
    london = ZoneInfo("Europe/London")
    assert form.cleaned_data["starts_at"] == datetime(2026, 7, 1, 9, 0, tzinfo=london)
    assert form.cleaned_data["ends_at"] == datetime(2026, 7, 31, 23, 59, tzinfo=london)
    assert errors_of(PromotionForm(promotion_data(starts_at="next Tuesday"))) == {
        "starts_at": ["Enter a date and time, e.g. 2026-06-01 09:00."]
    }


def test_a_minimum_spend_cannot_be_negative_and_0_is_none():
    assert errors_of(PromotionForm(promotion_data(min_spend="-1"))) == {
        "min_spend": ["Enter a minimum spend of 0 or more."]
    }
    form = PromotionForm(promotion_data(min_spend="0"))
    assert form.is_valid() and form.cleaned_data["min_spend"] is None


def test_products_and_categories_come_from_the_list():
    lamps = CategoryFactory(name="Lamps")
    mug = ProductFactory(title="Mug")
    form = PromotionForm(promotion_data(products=[str(mug.pk)], categories=[str(lamps.pk)]))
    assert form.is_valid(), form.errors
    assert list(form.cleaned_data["products"]) == [mug] and list(form.cleaned_data["categories"]) == [lamps]
    gone = PromotionForm(promotion_data(products=[str(mug.pk + 1000)], categories=["lamps"]))
    assert errors_of(gone) == {
        "products": ["Choose products from the list (one of them no longer exists)."],
        "categories": ["Choose categories from the list."],
    }


@pytest.mark.parametrize("typed", ["AB", "x" * 41, "SUMMER SALE", "-SAVE10", "_SAVE", "SAVE£10", ""])
def test_a_code_is_3_to_40_letters_digits_dashes_or_underscores(typed):
    assert errors_of(DiscountCodeForm({"code": typed, "usage_limit": ""})) == {"code": [SHAPE]}


def test_a_code_is_stored_upper_case_and_unique_ignoring_case():
    form = DiscountCodeForm({"code": "  summer-25_b ", "usage_limit": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"code": "SUMMER-25_B", "usage_limit": None}
    DiscountCode.objects.create(
        promotion=Promotion.objects.create(name="Old", reward="free_delivery"), code="SAVE10"
    )
    assert errors_of(DiscountCodeForm({"code": "save10", "usage_limit": "5"})) == {
        "code": ["That code is already in use."]
    }


@pytest.mark.parametrize("typed", ["0", "-1", "1.5", "lots", "2147483648"])
def test_a_usage_limit_is_1_or_more_or_blank(typed):
    assert errors_of(DiscountCodeForm({"code": "SAVE10", "usage_limit": typed})) == {"usage_limit": [LIMIT]}


def test_a_usage_limit_of_1_is_taken():
    form = DiscountCodeForm({"code": "SAVE10", "usage_limit": "1"})
    assert form.is_valid() and form.cleaned_data["usage_limit"] == 1


@pytest.mark.parametrize("typed", ["0", "5001", "-3", "many", ""])
def test_a_batch_is_1_to_5000_codes(typed):
    assert errors_of(CodeBatchForm({"prefix": "SPRING-", "count": typed})) == {"count": [COUNT]}


@pytest.mark.parametrize("typed", ["SPRING SALE", "x" * 33, "-SPRING", "=1+1"])
def test_a_batch_prefix_is_a_code_start(typed):
    assert errors_of(CodeBatchForm({"prefix": typed, "count": "10"})) == {
        "prefix": [
            "A prefix is up to 32 letters, digits, - or _ (no spaces), starting with a letter or digit."
        ]
    }


def test_a_batch_takes_5000_codes_and_an_empty_prefix():
    form = CodeBatchForm({"prefix": " spring-", "count": "5000"})
    assert form.is_valid() and form.cleaned_data == {"prefix": "SPRING-", "count": 5000}
    assert CodeBatchForm({"prefix": "", "count": "1"}).is_valid()
