"""A sale in the storefront and the dashboard: cards, product pages, listings' sort and price
filters, the /sale/ page and the header's Sale link all follow the sale price while a sale runs
and the list price when none does; staff create, check and pause sales from the dashboard.

The catalogue below, prices including VAT:
    Clothing
      Knitwear       the "Knitwear sale", 15 % off each unit, ends 31 January 2999 at 18:00
        Wool Scarf     £24.99: 2499 × 15 % = 374.85 -> 375 off -> £21.24
        Cable Jumper   S £65.00: 975 off -> £55.25; L £70.00: 1050 off -> £59.50
      Linen Shirt    £22.00, on no sale (dearer than the scarf's sale price, cheaper than its list price)
    Kitchen
      Enamel Mug     £12.00, the "Mug deal", £2.00 off -> £10.00
      Tea Towel      £6.00, on no sale
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from promotions.models import DiscountCode, Promotion, PromotionEvent
from tests.factories import CategoryFactory, ProductFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db

BASE = "/dashboard/promotions/"
SALE_ENDS = datetime(2999, 1, 31, 18, 0, tzinfo=ZoneInfo("Europe/London"))


def text_of(html: str) -> str:
    """Return the page's words without tags, spaces run together."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return " ".join(response.content.decode().split())


def was(price: str, list_price: str) -> str:
    """Return how a price lowered by a sale is shown."""
    return f'<span class="sale-price">{price}</span> <span class="was">was <s>{list_price}</s></span>'


def cards(body: str) -> list[tuple[str, str, str]]:
    """Return the page's product cards in order: (title, price as shown in HTML, sale name)."""
    found = []
    for card in re.findall(r'<li class="card">(.*?)</li>', body, re.S):
        title = re.search(r'<span class="card-title">(.*?)</span>', card).group(1)
        price = re.split(
            r'\s*<span class="card-(?:sale|stock)', card.split('<span class="card-price">', 1)[1]
        )[0]
        sale = re.search(r'<span class="card-sale">(.*?)</span>', card)
        found.append((title, price.strip().removesuffix("</span>"), sale.group(1) if sale else ""))
    return found


def titles(body: str) -> list[str]:
    return [title for title, _price, _sale in cards(body)]


def product(title: str, category, *prices: tuple[str, int]):
    """Return a product in `category` with a variant per (size, price), each in stock."""
    lowest = min(price for _size, price in prices)
    made = ProductFactory(
        title=title, slug=title.lower().replace(" ", "-"), category=category, price_from=lowest
    )
    for size, price in prices:
        options = {"size": size} if size else {}
        StockFactory(variant=VariantFactory(product=made, options=options, price=price), on_hand=10)
    return made


@pytest.fixture
def shop():
    """The catalogue in the module's docstring, with its two sales running; return them by name."""
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear", parent=clothing)
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", position=1)
    made = {
        "scarf": product("Wool Scarf", knitwear, ("", 2499)),
        "jumper": product("Cable Jumper", knitwear, ("S", 6500), ("L", 7000)),
        "shirt": product("Linen Shirt", clothing, ("", 2200)),
        "mug": product("Enamel Mug", kitchen, ("", 1200)),
        "towel": product("Tea Towel", kitchen, ("", 600)),
    }
    knitwear_sale = Promotion.objects.create(
        name="Knitwear sale", kind="sale", reward="percent", percent=15, ends_at=SALE_ENDS
    )
    knitwear_sale.categories.add(knitwear)
    mug_deal = Promotion.objects.create(name="Mug deal", kind="sale", reward="fixed", amount=200)
    mug_deal.products.add(made["mug"])
    return {**made, "knitwear_sale": knitwear_sale, "mug_deal": mug_deal, "knitwear": knitwear}


def no_sale_running() -> None:
    Promotion.objects.update(is_active=False)


SALE_LINK = '<a href="/sale/" class="nav-sale"'
ON_SALE_BOX = '<input type="checkbox" name="on_sale" value="1"'


# Cards, product pages and listings ------------------------------------------------------------


def test_a_category_s_cards_show_the_sale_price_and_what_it_was(client, shop):
    body = page(client, "/category/clothing/")

    # Newest first: the shirt, the jumper, the scarf (Knitwear is under Clothing).
    assert cards(body) == [
        ("Linen Shirt", "£22.00", ""),
        ("Cable Jumper", "from " + was("£55.25", "£65.00"), "Knitwear sale"),
        ("Wool Scarf", was("£21.24", "£24.99"), "Knitwear sale"),
    ]
    assert "3 products" in text_of(body)


def test_the_product_page_shows_each_variant_s_sale_price_and_the_sale(client, shop):
    body = page(client, "/products/cable-jumper/")

    assert '<p class="sale-badge">Knitwear sale · ends 31 January, 18:00</p>' in body
    assert '<p class="price">from ' + was("£55.25", "£65.00") in body
    variants = re.findall(
        r'<span class="variant-label">(.*?)</span> <span class="variant-price">(.*?)</span> '
        r'<span class="variant-stock">',
        body,
    )
    assert variants == [("S", was("£55.25", "£65.00")), ("L", was("£59.50", "£70.00"))]


def test_a_product_on_no_sale_shows_its_price_alone(client, shop):
    body = page(client, "/products/linen-shirt/")

    assert '<p class="price">£22.00 <span class="muted tax-note">' in body
    assert '<span class="variant-price">£22.00</span>' in body
    assert 'class="was"' not in body and "sale-badge" not in body and "sale-price" not in body


def test_where_two_sales_cover_a_product_the_one_taking_most_off_applies(client, shop):
    Promotion.objects.create(name="Four off", kind="sale", reward="fixed", amount=400)  # everything

    body = page(client, "/category/clothing/?sort=price_asc")

    # The shirt: £4.00 off -> £18.00. The scarf: 15 % is 375, £4.00 is 400 -> £20.99, never both
    # (2499 - 375 - 400 = 1724). The jumper: 15 % is 975 -> £55.25.
    assert cards(body) == [
        ("Linen Shirt", was("£18.00", "£22.00"), "Four off"),
        ("Wool Scarf", was("£20.99", "£24.99"), "Four off"),
        ("Cable Jumper", "from " + was("£55.25", "£65.00"), "Knitwear sale"),
    ]
    assert titles(page(client, "/category/clothing/?max_price=20.99&sort=price_asc")) == [
        "Linen Shirt",
        "Wool Scarf",
    ]
    assert titles(page(client, "/category/clothing/?max_price=20.98&min_price=18")) == ["Linen Shirt"]


def test_once_no_sale_runs_every_price_is_its_list_price_again(client, shop):
    no_sale_running()

    assert cards(page(client, "/category/clothing/")) == [
        ("Linen Shirt", "£22.00", ""),
        ("Cable Jumper", "from £65.00", ""),
        ("Wool Scarf", "£24.99", ""),
    ]
    product_page = page(client, "/products/cable-jumper/")
    assert '<p class="price">from £65.00 <span' in product_page and "sale-badge" not in product_page


def test_on_sale_only_lists_the_products_a_sale_covers(client, shop):
    full = page(client, "/category/clothing/")
    assert ON_SALE_BOX + "> On sale only" in full

    body = page(client, "/category/clothing/?on_sale=1")

    assert titles(body) == ["Cable Jumper", "Wool Scarf"]
    assert ON_SALE_BOX + " checked> On sale only" in body
    assert titles(page(client, "/category/kitchen/?on_sale=1")) == ["Enamel Mug"]


def test_on_sale_only_is_offered_only_while_a_sale_runs(client, shop):
    no_sale_running()

    body = page(client, "/category/clothing/")

    assert "In stock only" in body and ON_SALE_BOX not in body
    assert titles(body) == ["Linen Shirt", "Cable Jumper", "Wool Scarf"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # By the price the card shows: the scarf's £21.24 comes before the shirt's £22.00, though its
        # list price (£24.99) is above the shirt's; the jumper from £55.25 last.
        ("price_asc", ["Wool Scarf", "Linen Shirt", "Cable Jumper"]),
        ("price_desc", ["Cable Jumper", "Linen Shirt", "Wool Scarf"]),
    ],
)
def test_sorting_by_price_follows_the_sale_price(client, shop, sort, expected):
    assert titles(page(client, f"/category/clothing/?sort={sort}")) == expected


def test_sorting_by_price_follows_the_list_price_when_no_sale_runs(client, shop):
    no_sale_running()
    assert titles(page(client, "/category/clothing/?sort=price_asc")) == [
        "Linen Shirt",
        "Wool Scarf",
        "Cable Jumper",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The scarf at £21.24 is under £21.50 (its list price £24.99 is not); the shirt's £22.00 is not.
        ("max_price=21.50", ["Wool Scarf"]),
        ("min_price=21.50", ["Linen Shirt", "Cable Jumper"]),
        # Both ends count: the jumper from £55.25 exactly (its list price £65.00 is outside).
        ("min_price=55.25&max_price=55.25", ["Cable Jumper"]),
        ("min_price=60&max_price=70", []),
        ("max_price=21.23", []),
        ("min_price=21.24&max_price=21.24", ["Wool Scarf"]),
    ],
)
def test_the_price_filters_read_the_sale_price(client, shop, query, expected):
    assert titles(page(client, f"/category/clothing/?{query}&sort=price_asc")) == expected


# The sale page and the header's link ----------------------------------------------------------


def test_the_sale_page_lists_everything_on_sale_across_the_categories(client, shop):
    body = page(client, "/sale/")

    assert "<h1>Sale</h1>" in body
    # The sales in the order they were made.
    assert (
        '<li><strong>Knitwear sale</strong> <span class="muted">· ends 31 January, 18:00</span></li>'
        "<li><strong>Mug deal</strong></li>" in body
    )
    assert '<p class="result-count">3 products on sale</p>' in body
    assert sorted(cards(body)) == [
        ("Cable Jumper", "from " + was("£55.25", "£65.00"), "Knitwear sale"),
        ("Enamel Mug", was("£10.00", "£12.00"), "Mug deal"),
        ("Wool Scarf", was("£21.24", "£24.99"), "Knitwear sale"),
    ]
    assert SALE_LINK + ' aria-current="page">Sale</a>' in body
    assert ON_SALE_BOX not in body  # everything here is on sale already
    assert titles(page(client, "/sale/?sort=price_asc")) == ["Enamel Mug", "Wool Scarf", "Cable Jumper"]
    assert titles(page(client, "/sale/?max_price=30")) == ["Enamel Mug", "Wool Scarf"]


def test_the_sale_page_says_when_there_is_no_sale(client, shop):
    no_sale_running()

    body = page(client, "/sale/")

    assert "<h1>Sale</h1>" in body
    assert "There is no sale on at the moment." in body and cards(body) == []
    assert "Nothing on sale matches these filters." not in body


def test_the_sale_page_says_when_nothing_on_sale_matches_the_filters(client, shop):
    body = page(client, "/sale/?min_price=500")

    assert "Nothing on sale matches these filters." in body and cards(body) == []


def test_the_header_links_to_the_sale_only_while_one_runs(client, shop):
    for path in ("/", "/category/kitchen/", "/products/tea-towel/", "/search/?q=towel"):
        assert SALE_LINK + ">Sale</a>" in page(client, path), path

    no_sale_running()

    for path in ("/", "/category/kitchen/", "/products/tea-towel/", "/search/?q=towel", "/sale/"):
        body = page(client, path)
        assert '<a href="/category/kitchen/"' in body and SALE_LINK not in body, path


@pytest.mark.parametrize(
    ("query", "status", "listed"),
    [
        # Sorts and filters that are not ones are left out: everything on sale is listed.
        ("sort=bogus", 200, 3),
        ("sort=price_asc&sort=name", 200, 3),
        ("min_price=abc", 200, 3),
        ("min_price=-1", 200, 3),
        ("max_price=NaN", 200, 3),
        ("min_price=Infinity", 200, 3),
        ("min_price=1e400", 200, 3),
        ("min_price=99999999999999", 200, 3),
        ("min_price=%00", 200, 3),
        ("max_price=%FF%FE", 200, 3),
        ("on_sale=0", 200, 3),
        ("size=M&colour=%00", 200, 3),
        ("q=%3Cscript%3E", 200, 3),
        ("page=1", 200, 3),
        # An inverted range filters nothing.
        ("min_price=30&max_price=10", 200, 3),
        # Pages that are not ones are not found.
        ("page=", 404, 0),
        ("page=abc", 404, 0),
        ("page=0", 404, 0),
        ("page=2", 404, 0),
        ("page=-1", 404, 0),
        ("page=99999999999", 404, 0),
        ("page=1&page=2", 404, 0),
    ],
)
def test_odd_query_strings_on_the_sale_page_are_answered(client, shop, query, status, listed):
    response = client.get(f"/sale/?{query}")

    assert response.status_code == status
    body = " ".join(response.content.decode().split())
    if status == 200:
        assert "<h1>Sale</h1>" in body and len(cards(body)) == listed
    else:
        assert "<h1>We couldn’t find that page</h1>" in body


def test_bad_price_filters_on_the_sale_page_say_what_is_wrong_and_list_on(client, shop):
    body = page(client, "/sale/?min_price=30&max_price=10")

    assert "The highest price must not be below the lowest." in body
    assert len(cards(body)) == 3  # an inverted range filters nothing
    assert len(cards(page(client, "/sale/?min_price=abc"))) == 3


# Staff ----------------------------------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return staff


def sale_post(**fields) -> dict:
    data = {"name": "Knitwear sale", "kind": "sale", "reward": "percent", "percent": "15", "amount": ""}
    return data | {"min_spend": "", "starts_at": "", "ends_at": "", "is_active": "on", "note": "", **fields}


def everything() -> tuple:
    """Return every promotion row, to show that a refused input wrote nothing."""
    return (
        list(Promotion.objects.order_by("pk").values_list()),
        list(Promotion.products.through.objects.order_by("pk").values_list()),
        list(Promotion.categories.through.objects.order_by("pk").values_list()),
        list(DiscountCode.objects.order_by("pk").values_list()),
        list(PromotionEvent.objects.order_by("pk").values_list()),
    )


def history(staff, promotion: Promotion) -> list[str]:
    """Return the promotion's history as its page lists it, newest first."""
    body = page(staff, f"{BASE}{promotion.pk}/")
    section = body.split('id="history"', 1)[1].split("</section>", 1)[0]
    return [text_of(item) for item in re.findall(r"<li>(.*?)</li>", section)]


@pytest.fixture
def knitwear():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear", parent=clothing)
    product("Wool Scarf", knitwear, ("", 2499))
    product("Linen Shirt", clothing, ("", 2200))
    return knitwear


def test_staff_create_a_sale_and_shoppers_see_its_prices_at_once(staff, client, knitwear):
    created = staff.post(f"{BASE}add/", sale_post(categories=[str(knitwear.pk)]))

    promotion = Promotion.objects.get()
    assert created.status_code == 302 and created["Location"] == f"{BASE}{promotion.pk}/"
    assert (promotion.kind, promotion.reward, promotion.percent, promotion.is_active) == (
        "sale",
        "percent",
        15,
        True,
    )
    assert list(promotion.categories.all()) == [knitwear] and not promotion.products.exists()
    (created_event,) = history(staff, promotion)
    assert created_event.endswith(
        "— Created: name “Knitwear sale”; kind sale; reward 15 % off; products none; categories Knitwear; "
        "start none; end none; status active; note none. — sam@example.com"
    )
    assert PromotionEvent.objects.get().actor.email == "sam@example.com"
    # 2499 × 15 % = 374.85 -> 375 off: £21.24.
    assert cards(page(client, "/category/clothing/")) == [
        ("Linen Shirt", "£22.00", ""),
        ("Wool Scarf", was("£21.24", "£24.99"), "Knitwear sale"),
    ]
    listed = page(staff, BASE)
    row = re.search(rf'<tr data-promotion="{promotion.pk}">(.*?)</tr>', listed).group(1)
    assert text_of(row).startswith("Knitwear sale Sale 15 % off")


def test_staff_create_a_sale_of_an_amount_off_everything(staff, client, knitwear):
    created = staff.post(f"{BASE}add/", sale_post(name="Two off", reward="fixed", percent="", amount="2.00"))

    assert created.status_code == 302
    promotion = Promotion.objects.get()
    assert (promotion.kind, promotion.reward, promotion.amount, promotion.percent) == (
        "sale",
        "fixed",
        200,
        None,
    )
    assert "Everything in the shop" in page(staff, f"{BASE}{promotion.pk}/")
    assert cards(page(client, "/category/clothing/")) == [
        ("Linen Shirt", was("£20.00", "£22.00"), "Two off"),
        ("Wool Scarf", was("£22.99", "£24.99"), "Two off"),
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"reward": "free_delivery", "percent": ""},
            "A sale lowers prices: choose a percentage or an amount off.",
        ),
        ({"percent": "100"}, "A sale takes less than 100 % off: enter a percentage below 100."),
        ({"percent": "100.00"}, "A sale takes less than 100 % off: enter a percentage below 100."),
        ({"min_spend": "50.00"}, "A sale has no minimum spend: leave it blank."),
        (
            {"once_per_customer": "on"},
            "“Once per customer” is for discount codes: a sale applies to everyone.",
        ),
        (
            {"combinable": "on"},
            "“Combinable with other codes” is for discount codes: a sale applies to everyone.",
        ),
        (
            {"exclude_sale_items": "on"},
            "“Not for items on sale” is for discount codes: a sale applies to everyone.",
        ),
    ],
)
def test_what_a_sale_cannot_have_is_refused_with_its_message_and_nothing_written(staff, fields, message):
    before = everything()

    refused = staff.post(f"{BASE}add/", sale_post(**fields))

    assert refused.status_code == 400
    body = refused.content.decode()
    assert message in body and "Nothing was saved" in body
    assert everything() == before


@pytest.fixture
def knitwear_sale(knitwear) -> Promotion:
    promotion = Promotion.objects.create(name="Knitwear sale", kind="sale", reward="percent", percent=15)
    promotion.categories.add(knitwear)
    return promotion


def test_a_sale_s_page_has_no_codes_section(staff, knitwear_sale):
    body = page(staff, f"{BASE}{knitwear_sale.pk}/")

    assert "Sale: prices are lowered for everyone while it runs, no code needed" in body
    assert "<td>15 % off each item</td>" in body
    assert "categories (and their subcategories): Knitwear" in body
    assert "Pause: back to list prices" in body
    assert 'id="codes"' not in body and "Add a code" not in body and "Make single-use codes" not in body


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("codes/add/", {"code": "KNIT15", "usage_limit": ""}),
        ("codes/generate/", {"prefix": "", "count": "5"}),
    ],
    ids=["one-code", "a-batch"],
)
def test_codes_cannot_be_added_to_a_sale_and_the_page_says_why(staff, knitwear_sale, action, data):
    before = everything()

    refused = staff.post(f"{BASE}{knitwear_sale.pk}/{action}", data)

    assert refused.status_code == 400
    assert (
        "A sale needs no code: it lowers the prices of what it covers while it runs."
        in refused.content.decode()
    )
    assert everything() == before


def test_pausing_a_sale_puts_the_list_prices_back_and_resuming_brings_the_sale_back(staff, client, knitwear):
    promotion = Promotion.objects.create(name="Knitwear sale", kind="sale", reward="percent", percent=15)
    promotion.categories.add(knitwear)
    assert ("Wool Scarf", was("£21.24", "£24.99"), "Knitwear sale") in cards(
        page(client, "/category/clothing/")
    )

    paused = staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "0"})

    assert paused.status_code == 302
    promotion.refresh_from_db()
    assert promotion.is_active is False
    assert cards(page(client, "/category/clothing/")) == [
        ("Linen Shirt", "£22.00", ""),
        ("Wool Scarf", "£24.99", ""),
    ]
    assert "There is no sale on at the moment." in page(client, "/sale/")
    assert SALE_LINK not in page(client, "/")
    assert history(staff, promotion)[0].endswith(
        "— Paused: its prices are back to normal until it is resumed. — sam@example.com"
    )

    staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "1"})

    assert ("Wool Scarf", was("£21.24", "£24.99"), "Knitwear sale") in cards(
        page(client, "/category/clothing/")
    )
    assert history(staff, promotion)[0].endswith(
        "— Resumed: its sale prices are shown and charged again. — sam@example.com"
    )


def test_pausing_a_sale_tells_staff_about_its_prices_not_codes(staff, knitwear):
    promotion = Promotion.objects.create(name="Knitwear sale", kind="sale", reward="percent", percent=15)

    paused = staff.post(f"{BASE}{promotion.pk}/active/", {"is_active": "0"}, follow=True)

    assert paused.status_code == 200
    body = text_of(paused.content.decode())
    # The page's message speaks of what a sale does (its prices), as its history does.
    assert "Promotion Knitwear sale is paused" in body and "its codes are refused" not in body
