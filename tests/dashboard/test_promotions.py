"""Staff run promotions from the dashboard and the admin: every bad input is refused on the page
(400) with its message and nothing written; what they set is what shoppers' carts get; the
figures count paid orders to the penny; every change is in the history with who made it."""

import csv
import io
import re

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout.models import Order
from promotions.models import CodeUse, DiscountCode, Promotion, PromotionEvent
from tests.factories import OrderFactory, UserFactory, order_code_discount
from tests.helpers import fill_cart

pytestmark = pytest.mark.django_db

BASE = "/dashboard/promotions/"


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return client


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, email="ada@example.com"))
    return client


def page(response) -> str:
    return response.content.decode()


def text_of(html: str) -> str:
    """Return the page's words without tags, spaces run together."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def everything() -> tuple:
    """Return every promotion row, to show that a refused input wrote nothing."""
    return (
        list(Promotion.objects.order_by("pk").values_list()),
        list(Promotion.products.through.objects.order_by("pk").values_list()),
        list(Promotion.categories.through.objects.order_by("pk").values_list()),
        list(DiscountCode.objects.order_by("pk").values_list()),
        list(PromotionEvent.objects.order_by("pk").values_list()),
    )


def promotion_post(**fields) -> dict:
    data = {"name": "Ten off", "reward": "percent", "percent": "10", "amount": "", "min_spend": ""}
    return data | {"starts_at": "", "ends_at": "", "is_active": "on", "note": "", **fields}


def a_promotion(name="Ten off", **fields) -> Promotion:
    fields = {"reward": "percent", "percent": 10, **fields}
    if fields["reward"] != "percent":
        fields.pop("percent")
    return Promotion.objects.create(name=name, **fields)


def apply_code(shopper, text):
    return shopper.post("/cart/code/", {"code": text, "next": "/cart/"}, follow=True)


def test_staff_create_a_promotion_and_a_code_that_a_shoppers_cart_then_takes(staff, shipping, jumper):
    created = staff.post(f"{BASE}add/", promotion_post())
    promotion = Promotion.objects.get()
    assert created.status_code == 302 and created["Location"] == f"{BASE}{promotion.pk}/"
    added = staff.post(f"{BASE}{promotion.pk}/codes/add/", {"code": " save10 ", "usage_limit": "100"})
    assert added.status_code == 302
    assert list(DiscountCode.objects.values_list("code", "usage_limit", "promotion")) == [
        ("SAVE10", 100, promotion.pk)
    ]
    shown = staff.get(f"{BASE}{promotion.pk}/")
    assert shown.status_code == 200
    assert '<code>SAVE10</code></td><td class="num">100</td><td class="num">0</td>' in page(shown)

    shopper = Client()
    fill_cart(shopper, (jumper, 1))
    applied = apply_code(shopper, "save10")
    assert applied.status_code == 200
    assert "Ten off: £6.50 off." in page(applied)  # 10 % of £65.00
    assert '<td class="num" data-total="discount">−£6.50</td>' in page(applied)


def test_a_paused_promotion_s_code_is_refused_and_taken_again_once_resumed(staff, shipping, jumper):
    promotion = a_promotion()
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    shopper = Client()
    fill_cart(shopper, (jumper, 1))

    paused = staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "0"}, follow=True)

    assert paused.status_code == 200 and "Promotion Ten off is paused: its codes are refused." in page(paused)
    refused = apply_code(shopper, "SAVE10")
    assert refused.status_code == 200 and "That code is not available at the moment." in page(refused)
    resumed = staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "1"}, follow=True)
    assert "Promotion Ten off is resumed: its codes are accepted." in page(resumed)
    assert "Ten off: £6.50 off." in page(apply_code(shopper, "SAVE10"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"percent": "0"}, "Enter a percentage above 0 and at most 100."),
        ({"percent": "100.5"}, "Enter a percentage above 0 and at most 100."),
        ({"percent": ""}, "Enter a percentage above 0 and at most 100."),
        ({"reward": "fixed", "percent": "", "amount": "0"}, "Enter an amount above 0."),
        ({"reward": "fixed", "percent": "", "amount": "5,00"}, "Enter an amount as a number, e.g. 5.00."),
        (
            {"reward": "free_delivery", "amount": ""},
            "Free delivery takes no percentage or amount: leave it blank.",
        ),
        (
            {"starts_at": "2026-06-30T00:00", "ends_at": "2026-06-01T00:00"},
            "The end must be after the start.",
        ),
        ({"min_spend": "-5"}, "Enter a minimum spend of 0 or more."),
        ({"name": ""}, "Give the promotion a name shoppers will read."),
        ({"products": ["999999"]}, "Choose products from the list (one of them no longer exists)."),
        ({"name": "Summer\x00"}, "Null characters are not allowed."),
    ],
)
def test_a_bad_promotion_is_refused_with_its_message_and_nothing_written(staff, fields, message):
    edited = a_promotion("Old name")
    before = everything()
    for url in (f"{BASE}add/", f"{BASE}{edited.pk}/edit/"):
        refused = staff.post(url, promotion_post(**fields))
        assert refused.status_code == 400, url
        assert message in page(refused) and "Nothing was saved" in page(refused), url
        assert everything() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"code": "AB"},
            "A code is 3 to 40 letters, digits, - or _ (no spaces), starting with a letter or digit.",
        ),
        ({"code": "summer sale"}, "A code is 3 to 40 letters, digits, - or _"),
        ({"code": "=HYPERLINK"}, "A code is 3 to 40 letters, digits, - or _"),
        ({"code": "taken"}, "That code is already in use."),
        ({"usage_limit": "0"}, "Enter a usage limit of 1 or more, or leave it blank for no limit."),
    ],
)
def test_a_bad_code_is_refused_with_its_message_and_nothing_written(staff, fields, message):
    promotion = a_promotion()
    DiscountCode.objects.create(promotion=a_promotion("Other"), code="TAKEN")
    before = everything()
    refused = staff.post(f"{BASE}{promotion.pk}/codes/add/", {"code": "NEW10", "usage_limit": "", **fields})
    assert refused.status_code == 400
    assert message in page(refused) and "<h1>Ten off" in page(refused)
    assert everything() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": "0"}, "Enter how many codes to make, from 1 to 5,000."),
        ({"count": "5001"}, "Enter how many codes to make, from 1 to 5,000."),
        ({"prefix": "SPRING SALE"}, "A prefix is up to 32 letters, digits, - or _"),
    ],
)
def test_a_bad_batch_is_refused_with_its_message_and_nothing_written(staff, fields, message):
    promotion = a_promotion()
    before = everything()
    refused = staff.post(
        f"{BASE}{promotion.pk}/codes/generate/", {"prefix": "SPRING-", "count": "10", **fields}
    )
    assert refused.status_code == 400 and message in page(refused)
    assert everything() == before


def test_pause_or_resume_must_say_which(staff):
    promotion = a_promotion()
    before = everything()
    refused = staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "maybe"})
    assert refused.status_code == 400
    assert "Say whether to resume the promotion (1) or pause it (0)." in page(refused)
    assert everything() == before


def test_a_batch_makes_distinct_single_use_codes_and_the_csv_lists_them(staff):
    promotion = a_promotion()
    DiscountCode.objects.create(promotion=promotion, code="STAFF10", usage_limit=None, uses=2)

    made = staff.post(
        f"{BASE}{promotion.pk}/codes/generate/", {"prefix": "spring-", "count": "25"}, follow=True
    )

    assert made.status_code == 200 and "25 single-use codes made for Ten off." in page(made)
    batch = list(DiscountCode.objects.filter(promotion=promotion).exclude(code="STAFF10"))
    assert len(batch) == 25 and len({code.code for code in batch}) == 25
    assert all(re.fullmatch(r"SPRING-[A-Z2-9]{8}", code.code) for code in batch)
    assert {(code.usage_limit, code.uses) for code in batch} == {(1, 0)}

    exported = staff.get(f"{BASE}{promotion.pk}/codes.csv")

    assert exported.status_code == 200 and exported.streaming
    assert exported["Content-Type"] == "text/csv; charset=utf-8"

    async def body() -> bytes:
        return b"".join([chunk async for chunk in exported.streaming_content])

    rows = list(csv.reader(io.StringIO(async_to_sync(body)().decode())))
    expected = sorted([[code.code, "1", "0"] for code in batch] + [["STAFF10", "", "2"]])
    assert rows == [["code", "usage_limit", "uses"], *expected]


def _paid(code: DiscountCode, *, total: int, discount: int, status=Order.PaymentStatus.PAID, use="consumed"):
    order = OrderFactory(discount_total=discount, subtotal=total, total=total, payment_status=status)
    promotion = code.promotion
    order_code_discount(order, code=code.code, name=promotion.name, amount=discount, promotion=promotion)
    CodeUse.objects.create(code=code, promotion=code.promotion, order=order, status=use)
    return order


def _row_text(html: str, promotion: Promotion) -> str:
    found = re.search(rf'<tr data-promotion="{promotion.pk}">(.*?)</tr>', html, re.S)
    assert found, promotion.name
    return text_of(found.group(1))


def test_the_list_counts_uses_paid_orders_revenue_and_discount_given_per_promotion(staff):
    summer = a_promotion("Summer sale")
    first, second = (DiscountCode.objects.create(promotion=summer, code=text) for text in ("SUN1", "SUN2"))
    fiver = a_promotion("Fiver", reward="fixed", amount=500, is_active=False)
    five = DiscountCode.objects.create(promotion=fiver, code="FIVE")
    a_promotion("Quiet")
    _paid(first, total=4500, discount=500)
    _paid(second, total=2700, discount=300, status=Order.PaymentStatus.PARTIALLY_REFUNDED)
    _paid(first, total=9000, discount=1000, status=Order.PaymentStatus.AWAITING, use="held")
    _paid(second, total=1800, discount=200, status=Order.PaymentStatus.REFUNDED, use="released")
    _paid(five, total=3000, discount=500)
    OrderFactory(total=5000, subtotal=5000)  # no code

    listed = staff.get(BASE)

    assert listed.status_code == 200
    html = page(listed)
    # Name, kind, reward (covers), codes, when, status, uses, orders, revenue, discount given.
    summer_row = "Summer sale Codes 10 % off (whole order) 2 Any time Active 2 2 £72.00 £8.00"
    assert _row_text(html, summer) == summer_row
    assert _row_text(html, fiver) == "Fiver Codes £5.00 off (whole order) 1 Any time Paused 1 1 £30.00 £5.00"
    assert "Quiet Codes 10 % off (whole order) 0 Any time Active 0 0 £0.00 £0.00" in text_of(html)
    detail = text_of(page(staff.get(f"{BASE}{summer.pk}/")))
    assert "Paid orders 2 (2 code uses consumed), revenue £72.00, discount given £8.00" in detail


def test_the_list_reads_the_same_few_queries_however_many_promotions(staff):
    a_promotion("First")
    staff.get(BASE)  # the session and the user are read first
    with CaptureQueriesContext(connection) as one:
        assert staff.get(BASE).status_code == 200
    for number in range(5):
        code = DiscountCode.objects.create(promotion=a_promotion(f"More {number}"), code=f"MORE{number}")
        _paid(code, total=1200, discount=100)
    with CaptureQueriesContext(connection) as six:
        listed = staff.get(BASE)
    assert listed.status_code == 200 and "More 4" in page(listed)
    assert len(six) == len(one)


def test_a_promotion_s_status_says_scheduled_and_ended(staff):
    later = a_promotion("Later", starts_at="2999-01-01T00:00Z")
    over = a_promotion("Over", ends_at="2001-01-01T00:00Z")
    html = page(staff.get(BASE))
    assert "Scheduled" in _row_text(html, later) and "From 1 Jan 2999 00:00" in _row_text(html, later)
    assert "Ended" in _row_text(html, over) and "Until 1 Jan 2001 00:00" in _row_text(html, over)


def test_every_change_is_in_the_history_with_who_made_it(staff):
    staff.post(f"{BASE}add/", promotion_post(name="Spring"))
    promotion = Promotion.objects.get()
    url = f"{BASE}{promotion.pk}/"
    staff.post(f"{url}edit/", promotion_post(name="Spring sale", reward="fixed", percent="", amount="5.00"))
    staff.post(f"{url}active/", {"is_active": "0"})
    staff.post(f"{url}active/", {"is_active": "1"})
    staff.post(f"{url}codes/add/", {"code": "spring5", "usage_limit": "3"})
    staff.post(f"{url}codes/generate/", {"prefix": "SPR-", "count": "4"})
    code = DiscountCode.objects.get(code="SPRING5")
    staff.post(f"{BASE}codes/{code.pk}/delete/")

    shown = staff.get(url)

    assert shown.status_code == 200
    history = text_of(page(shown)).split("History", 1)[1]
    expected = [
        "Deleted code SPRING5.",
        "Generated 4 single-use codes starting SPR-.",
        "Added code SPRING5 (3 uses).",
        "Resumed: its codes are accepted again.",
        "Paused: its codes are refused until it is resumed.",
        "Changed name from “Spring” to “Spring sale”; reward from 10 % off to £5.00 off.",
        "Created: name “Spring”; kind codes; reward 10 % off; products none; categories none; minimum spend "
        "none; start none; end none; once per customer no; combinable no; items on sale included; status "
        "active; note none.",
    ]
    positions = [history.find(f"{message} — sam@example.com") for message in expected]
    assert -1 not in positions, history
    assert positions == sorted(positions)  # newest first
    assert PromotionEvent.objects.filter(promotion=promotion).count() == 7
    assert set(PromotionEvent.objects.values_list("actor__email", flat=True)) == {"sam@example.com"}


def test_a_code_an_order_used_cannot_be_deleted(staff):
    promotion = a_promotion()
    code = DiscountCode.objects.create(promotion=promotion, code="USED10")
    _paid(code, total=1200, discount=120, status=Order.PaymentStatus.VOIDED, use="released")
    before = everything()

    refused = staff.post(f"{BASE}codes/{code.pk}/delete/")

    assert refused.status_code == 400
    assert "Orders have used this code: pause its promotion instead." in page(refused)
    assert everything() == before


def test_pages_of_a_promotion_that_does_not_exist_are_not_found(staff):
    promotion = a_promotion()
    before = everything()
    for url in (
        f"{BASE}999999/",
        f"{BASE}999999/edit/",
        f"{BASE}999999/codes.csv",
        f"{BASE}{promotion.pk}/?page=9",
    ):
        assert staff.get(url).status_code == 404, url
    for url in (f"{BASE}codes/999999/delete/", f"{BASE}999999/active/", f"{BASE}999999/codes/add/"):
        assert staff.post(url, {"is_active": "0", "code": "NEW10"}).status_code == 404, url
    assert everything() == before


def test_the_list_and_the_forms_show(staff):
    promotion = a_promotion("Summer sale", note="For the newsletter")
    listed = staff.get(BASE)
    assert listed.status_code == 200
    assert '<a href="/dashboard/promotions/" aria-current="page">Promotions</a>' in page(listed)
    add = staff.get(f"{BASE}add/")
    assert add.status_code == 200 and "<h1>Add a promotion</h1>" in page(add)
    edit = staff.get(f"{BASE}{promotion.pk}/edit/")
    assert edit.status_code == 200 and 'value="Summer sale"' in page(edit) and 'value="10"' in page(edit)
    detail = staff.get(f"{BASE}{promotion.pk}/")
    assert detail.status_code == 200 and "For the newsletter" in page(detail)
    assert "No code yet: shoppers cannot use this promotion." in page(detail)


def test_the_promotions_pages_are_for_staff_only(client):
    promotion = a_promotion()
    code = DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    pages = [f"{BASE}", f"{BASE}add/", f"{BASE}{promotion.pk}/", f"{BASE}{promotion.pk}/edit/"]
    pages += [f"{BASE}{promotion.pk}/codes.csv"]
    actions = [f"{BASE}add/", f"{BASE}{promotion.pk}/edit/", f"{BASE}{promotion.pk}/active/"]
    actions += [f"{BASE}{promotion.pk}/codes/add/", f"{BASE}{promotion.pk}/codes/generate/"]
    actions += [f"{BASE}codes/{code.pk}/delete/"]
    before = everything()
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"/account/login/?next={BASE}"), url
    client.force_login(UserFactory(is_staff=False))
    for url in pages:
        assert client.get(url).status_code == 403, url
    for url in actions:
        assert (
            client.post(url, {**promotion_post(), "is_active": "0", "count": "5", "code": "X123"}).status_code
            == 403
        )
    assert everything() == before


# The Django admin ------------------------------------------------------------------------------


def inline_rows(prefix: str, rows, initial: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data |= {f"{prefix}-{index}-{name}": value for name, value in row.items()}
    return data


def admin_post(new_codes, **fields) -> dict:
    data = {key: value for key, value in promotion_post(**fields).items()}
    return data | inline_rows("codes", []) | inline_rows("codes-2", new_codes) | inline_rows("events", [])


def test_the_admin_pages_answer(admin_client):
    promotion = a_promotion("Summer sale")
    code = DiscountCode.objects.create(promotion=promotion, code="SUN10", usage_limit=5, uses=1)
    use = CodeUse.objects.create(code=code, promotion=promotion, order=OrderFactory())
    pages = {
        "/admin/promotions/promotion/": "Summer sale",
        "/admin/promotions/promotion/add/": "Add codes",
        f"/admin/promotions/promotion/{promotion.pk}/change/": "SUN10",
        "/admin/promotions/codeuse/": use.order.number,
        f"/admin/promotions/codeuse/{use.pk}/change/": use.order.number,
    }
    for url, text in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert text in page(response), url


def test_the_admin_saves_through_the_same_rules_and_records_who(admin_client):
    before = everything()
    refused = admin_client.post(
        "/admin/promotions/promotion/add/", admin_post([{"code": "ab"}], percent="101")
    )
    assert refused.status_code == 200
    assert "Enter a percentage above 0 and at most 100." in page(refused)
    assert "A code is 3 to 40 letters, digits, - or _" in page(refused)
    assert everything() == before
    twice = admin_post([{"code": "JUNE10"}, {"code": "june10"}])
    assert "That code is already in use." in page(
        admin_client.post("/admin/promotions/promotion/add/", twice)
    )
    assert everything() == before

    saved = admin_client.post(
        "/admin/promotions/promotion/add/", admin_post([{"code": "june10", "usage_limit": "2"}])
    )

    assert saved.status_code == 302
    promotion = Promotion.objects.get()
    assert list(promotion.codes.values_list("code", "usage_limit", "uses")) == [("JUNE10", 2, 0)]
    assert (
        list(promotion.events.order_by("pk").values_list("actor__email", flat=True))
        == ["ada@example.com"] * 2
    )
    assert promotion.events.order_by("pk").last().message == "Added code JUNE10 (2 uses)."


def test_the_admin_refuses_codes_for_a_sale(admin_client):
    before = everything()
    refused = admin_client.post(
        "/admin/promotions/promotion/add/", admin_post([{"code": "SALE20"}], kind="sale", percent="20")
    )
    assert refused.status_code == 200
    assert "A sale needs no code: it lowers the prices of what it covers while it runs." in page(refused)
    assert everything() == before
    saved = admin_client.post("/admin/promotions/promotion/add/", admin_post([], kind="sale", percent="20"))
    assert saved.status_code == 302
    assert Promotion.objects.get().kind == "sale" and not DiscountCode.objects.exists()
