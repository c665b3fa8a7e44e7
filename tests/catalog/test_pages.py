"""Storefront catalogue pages: content, sorting, filters, pagination, queries, bad input."""

import re

import pytest
from django.test import override_settings
from django.utils.html import escape

from catalog.models import Product
from inventory.models import Stock
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    StockFactory,
    VariantFactory,
    product_with_stock,
)

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    """Return the product titles on a listing page, in order."""
    return re.findall(r'<span class="card-title">([^<]*)</span>', response.content.decode())


@pytest.fixture
def clothing():
    root = CategoryFactory(name="Clothing", slug="clothing", description="Clothes that last.")
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear", parent=root)
    return root, knitwear


def test_home_shows_categories_and_featured_products(client, clothing):
    root, knitwear = clothing
    product_with_stock(title="Featured Jumper", category=knitwear, is_featured=True)
    product_with_stock(title="Plain Jumper", category=knitwear)

    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/category/clothing/"' in body
    assert "Knitwear" in body
    assert "Featured Jumper" in body
    assert '<link rel="canonical" href="http://testserver/">' in body


def test_home_query_count_is_fixed(client, clothing, django_assert_num_queries):
    for index in range(12):
        product_with_stock(title=f"Jumper {index}", category=clothing[1], is_featured=True)
    # categories, the sales running, then ids and cards for each of featured and newest, and the
    # delivery promise
    with django_assert_num_queries(7):
        assert client.get("/").status_code == 200


def test_category_lists_products_of_its_subcategories_with_breadcrumbs(client, clothing):
    root, knitwear = clothing
    product_with_stock(title="Merino Jumper", category=knitwear)
    product_with_stock(title="Hidden Jumper", category=knitwear, is_active=False)
    other = CategoryFactory(name="Kitchen", slug="kitchen")
    product_with_stock(title="Skillet", category=other)

    response = client.get("/category/clothing/")
    assert response.status_code == 200
    assert titles(response) == ["Merino Jumper"]
    body = response.content.decode()
    assert 'href="/category/knitwear/"' in body  # subcategory chip
    assert "<title>Clothing | " in body
    assert '<meta name="description" content="Clothes that last.">' in body
    assert '<link rel="canonical" href="http://testserver/category/clothing/">' in body

    response = client.get("/category/knitwear/")
    body = response.content.decode()
    assert re.search(r'<a href="/">Home</a> › <a href="/category/clothing/">Clothing</a> ›', body)
    assert '<span aria-current="page">Knitwear</span>' in body


def test_listing_query_count_does_not_grow_with_the_page(client, clothing, django_assert_num_queries):
    root, knitwear = clothing
    for index in range(3):
        product = product_with_stock(title=f"Jumper {index}", category=knitwear, options={"colour": "Navy"})
        ProductImageFactory(product=product)
    # categories, option facets, the sales running, count, page ids, page cards
    with django_assert_num_queries(6):
        small = client.get("/category/clothing/")
    for index in range(30):
        product = product_with_stock(title=f"More {index}", category=knitwear, options={"colour": "Rust"})
        ProductImageFactory(product=product)
        ProductImageFactory(product=product)
    # and, filtered, the one facet (colour) counted within the other filters
    with django_assert_num_queries(7):
        large = client.get("/category/clothing/?colour=Rust&in_stock=1&sort=price_asc&min_price=1")
    assert len(titles(small)) == 3
    assert len(titles(large)) == 24


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["Cheap", "Middle", "Dear"]),
        ("price_desc", ["Dear", "Middle", "Cheap"]),
        ("name", ["Cheap", "Dear", "Middle"]),
        ("newest", ["Middle", "Dear", "Cheap"]),
        ("nonsense", ["Middle", "Dear", "Cheap"]),
    ],
)
def test_listing_sorts(client, clothing, sort, expected):
    root, _ = clothing
    cheap = product_with_stock(title="Cheap", price=500, category=root)
    dear = product_with_stock(title="Dear", price=9000, category=root)
    middle = product_with_stock(title="Middle", price=2000, category=root)
    for age, product in enumerate([middle, dear, cheap]):
        Product.objects.filter(pk=product.pk).update(created_at=product.created_at.replace(year=2020 - age))

    response = client.get(f"/category/clothing/?sort={sort}")

    assert response.status_code == 200
    assert titles(response) == expected


def test_listing_filters_by_price_stock_and_options(client, clothing):
    root, _ = clothing
    product_with_stock(title="Navy M", price=1500, category=root, options={"colour": "Navy", "size": "M"})
    product_with_stock(title="Navy L", price=2500, category=root, options={"colour": "Navy", "size": "L"})
    product_with_stock(title="Rust M", price=3500, category=root, options={"colour": "Rust", "size": "M"})
    product_with_stock(title="Sold out", price=1500, on_hand=0, category=root, options={"colour": "Navy"})
    # Stock fully held by reservations counts as out of stock too.
    held = product_with_stock(title="All held", price=1500, category=root, options={"colour": "Navy"})
    Stock.objects.filter(variant__product=held).update(allocated=10)

    def listed(query: str) -> set[str]:
        response = client.get(f"/category/clothing/?{query}")
        assert response.status_code == 200
        return set(titles(response))

    assert listed("min_price=20&max_price=30") == {"Navy L"}
    assert listed("max_price=15.00") == {"Navy M", "Sold out", "All held"}
    assert listed("in_stock=1") == {"Navy M", "Navy L", "Rust M"}
    assert listed("colour=Navy&size=M") == {"Navy M"}
    assert listed("colour=Navy&colour=Rust&size=M") == {"Navy M", "Rust M"}
    assert listed("colour=Navy&in_stock=1") == {"Navy M", "Navy L"}
    # A value the category does not offer is ignored rather than emptying the page.
    assert listed("colour=Purple") == {"Navy M", "Navy L", "Rust M", "Sold out", "All held"}


def test_option_facets_list_values_with_counts(client, clothing):
    root, _ = clothing
    product_with_stock(title="A", category=root, options={"colour": "Navy"})
    product_with_stock(title="B", category=root, options={"colour": "Navy"})
    product_with_stock(title="C", category=root, options={"colour": "Rust"})

    body = client.get("/category/clothing/").content.decode()

    assert re.search(r'value="Navy"> Navy <span class="muted">\(2\)</span>', body)
    assert re.search(r'value="Rust"> Rust <span class="muted">\(1\)</span>', body)


@override_settings(PRODUCTS_PER_PAGE=2)
def test_pagination_and_canonical_of_later_pages(client, clothing):
    root, _ = clothing
    for index in range(5):
        product_with_stock(title=f"P{index}", category=root)

    first = client.get("/category/clothing/")
    third = client.get("/category/clothing/?page=3")

    assert len(titles(first)) == 2
    assert 'rel="next" href="?page=2"' in first.content.decode()
    assert len(titles(third)) == 1
    assert "Page 3 of 3" in third.content.decode()
    assert (
        '<link rel="canonical" href="http://testserver/category/clothing/?page=3">' in third.content.decode()
    )


@pytest.mark.parametrize("page", ["99", "0", "-1", "abc", "1.5", "9" * 40, "%00"])
def test_bad_page_numbers_are_404(client, clothing, page):
    product_with_stock(category=clothing[0])

    response = client.get(f"/category/clothing/?page={page}")

    assert response.status_code == 404
    assert "We couldn’t find that page" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min_price=-5", "Ensure this value is greater than or equal to 0"),
        ("max_price=abc", "Enter a number."),
        ("max_price=1e20", "Ensure this value is less than or equal to 1000000"),
        ("min_price=50&max_price=10", "The highest price must not be below the lowest."),
        ("min_price=NaN", "Enter a number."),
    ],
)
def test_bad_price_filters_show_an_error_and_are_ignored(client, clothing, query, message):
    product_with_stock(title="Still listed", category=clothing[0])

    response = client.get(f"/category/clothing/?{query}")

    assert response.status_code == 200
    assert message in response.content.decode()
    assert titles(response) == ["Still listed"]


def test_over_long_query_string_is_handled(client, clothing):
    product_with_stock(title="Still listed", category=clothing[0])
    response = client.get("/category/clothing/?colour=" + "x" * 5000 + "&sort=" + "y" * 3000)
    assert response.status_code == 200
    assert titles(response) == ["Still listed"]


def test_unknown_and_inactive_categories_are_404(client, clothing):
    CategoryFactory(name="Old", slug="old", is_active=False)
    child_of_inactive = CategoryFactory(
        name="Orphan", slug="orphan", parent=CategoryFactory(slug="gone", is_active=False)
    )
    product_with_stock(title="Orphaned", slug="orphaned", category=child_of_inactive)

    assert client.get("/category/nope/").status_code == 404
    assert client.get("/category/old/").status_code == 404
    assert client.get("/category/orphan/").status_code == 404
    assert client.get("/products/orphaned/").status_code == 404


def test_product_page_shows_variants_prices_availability_and_images(client, clothing):
    product = ProductFactory(
        title="Brora Merino Jumper",
        slug="brora-merino-jumper",
        category=clothing[1],
        description="Soft merino.\n\nMade in Scotland.",
        price_from=6500,
    )
    plenty = VariantFactory(product=product, sku="J-M", options={"size": "M", "colour": "Navy"}, price=6500)
    few = VariantFactory(product=product, sku="J-L", options={"size": "L", "colour": "Navy"}, price=7000)
    none = VariantFactory(product=product, sku="J-XL", options={"size": "XL", "colour": "Navy"}, price=7000)
    VariantFactory(product=product, sku="J-OLD", options={"size": "S", "colour": "Red"}, is_active=False)
    StockFactory(variant=plenty, on_hand=20)
    StockFactory(variant=few, on_hand=5, allocated=2)
    StockFactory(variant=none, on_hand=0)
    ProductImageFactory(product=product, image="products/jumper.jpg", alt_text="Jumper in navy")

    response = client.get("/products/brora-merino-jumper/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Brora Merino Jumper</h1>" in body
    assert "from £65.00" in body
    assert "M / Navy" in body and "£70.00" in body
    assert "Only 3 left" in body
    assert "Out of stock" in body
    assert "S / Red" not in body  # inactive variant
    assert f'value="{none.pk}" disabled' in body
    assert 'alt="Jumper in navy"' in body
    assert "Choose size and colour" in body
    assert '<link rel="canonical" href="http://testserver/products/brora-merino-jumper/">' in body
    assert '<meta name="description" content="Soft merino. Made in Scotland.">' in body
    assert 'href="/category/knitwear/"' in body  # breadcrumb


def test_product_page_query_count(client, clothing, django_assert_num_queries):
    product = product_with_stock(title="Thing", category=clothing[0])
    for index in range(5):
        StockFactory(variant=VariantFactory(product=product, options={"size": str(index)}))
        ProductImageFactory(product=product)
    # categories, product, variants, images, then live stock, the sales running and the delivery promise
    with django_assert_num_queries(7):
        assert client.get(f"/products/{product.slug}/").status_code == 200


def test_product_page_is_kept_briefly_but_its_stock_is_always_live(
    client, clothing, settings, django_assert_num_queries
):
    from catalog.selectors import catalog_cache_clear

    settings.CATALOG_CACHE_SECONDS = 60
    settings.CATALOG_LISTING_CACHE_SECONDS = 10
    catalog_cache_clear()
    product = product_with_stock(title="Thing", category=clothing[0])
    assert "In stock" in client.get(f"/products/{product.slug}/").content.decode()
    Stock.objects.filter(variant__product=product).update(on_hand=2)
    with django_assert_num_queries(1):  # the stock, live; the delivery promise is kept like the tree
        body = client.get(f"/products/{product.slug}/").content.decode()
    assert "Only 2 left" in body
    Stock.objects.filter(variant__product=product).update(allocated=2)
    assert "Currently out of stock" in client.get(f"/products/{product.slug}/").content.decode()
    Product.objects.filter(pk=product.pk).update(title="Renamed")
    assert "Renamed" not in client.get(f"/products/{product.slug}/").content.decode()  # kept up to 10 s
    catalog_cache_clear()  # what an admin edit does
    assert "Renamed" in client.get(f"/products/{product.slug}/").content.decode()
    catalog_cache_clear()


def test_unknown_and_inactive_products_are_404(client, clothing):
    ProductFactory(slug="retired", category=clothing[0], is_active=False)

    for url in ["/products/nope/", "/products/retired/", "/products/%3Cscript%3E/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert "We couldn’t find that page" in response.content.decode()


def test_text_from_the_catalogue_is_escaped_everywhere(client):
    category = CategoryFactory(name="<b>Cat</b>", slug="cat", description="<script>alert('c')</script>")
    product_with_stock(
        title="<script>alert('t')</script>",
        slug="evil",
        category=category,
        is_featured=True,
        description="<img src=x onerror=alert(1)>",
        options={"colour": "<i>red</i>"},
    )

    name, title = "<b>Cat</b>", "<script>alert('t')</script>"
    assert_shown_escaped(client, "/", name, title)
    assert_shown_escaped(client, "/category/cat/", name, "<script>alert('c')</script>", title, "<i>red</i>")
    assert_shown_escaped(client, "/products/evil/", name, title, "<img src=x onerror=alert(1)>", "<i>red</i>")
    assert_shown_escaped(client, "/search/?q=script", title)


def assert_shown_escaped(client, url: str, *texts: str) -> None:
    """The page answers 200 and shows each text escaped, and none of the catalogue's markup raw."""
    response = client.get(url)
    assert response.status_code == 200, url
    body = response.content.decode()
    for raw in ("<script>alert", "<img src=x", "<i>red</i>", "<b>Cat</b>"):
        assert raw not in body, (url, raw)
    for text in texts:
        assert escape(text) in body, (url, text)


def test_size_facets_are_in_wearing_order(client, clothing):
    for size in ["XL", "S", "M", "XS", "L"]:
        product_with_stock(title=f"Tee {size}", category=clothing[0], options={"size": size})
    body = client.get("/category/clothing/").content.decode()
    positions = [body.index(f'value="{size}"') for size in ["XS", "S", "M", "L", "XL"]]
    assert positions == sorted(positions)


def test_catalogue_reads_are_cached_briefly_and_cleared_by_admin_edits(
    client, clothing, settings, django_assert_num_queries
):
    from catalog.selectors import catalog_cache_clear

    settings.CATALOG_CACHE_SECONDS = 60
    catalog_cache_clear()
    product_with_stock(title="Jumper", category=clothing[0], options={"colour": "Navy"})
    client.get("/category/clothing/")
    # categories and facets come from the cache: the sales running, count, page ids and cards only
    with django_assert_num_queries(4):
        assert client.get("/category/clothing/").status_code == 200

    CategoryFactory(name="Outdoors", slug="outdoors")
    assert "Outdoors" not in client.get("/").content.decode()  # cached for up to a minute
    catalog_cache_clear()  # what an admin edit does
    assert "Outdoors" in client.get("/").content.decode()
    catalog_cache_clear()


def test_listing_pages_are_kept_briefly_with_their_rendered_grid(
    client, clothing, settings, django_assert_num_queries
):
    from catalog.selectors import catalog_cache_clear

    settings.CATALOG_CACHE_SECONDS = 60
    settings.CATALOG_LISTING_CACHE_SECONDS = 10
    catalog_cache_clear()
    product_with_stock(title="Jumper", category=clothing[0], options={"colour": "Navy"})
    first = client.get("/category/clothing/")
    # tree, facets, count, ids and cards all come from this process's memory
    with django_assert_num_queries(0):
        again = client.get("/category/clothing/")
    assert titles(again) == titles(first) == ["Jumper"]
    assert "1 product" in again.content.decode()

    product_with_stock(title="Cardigan", category=clothing[0], options={"colour": "Navy"})
    assert titles(client.get("/category/clothing/")) == ["Jumper"]  # kept for up to 10 s
    # another filter or page is another entry, read fresh
    assert set(titles(client.get("/category/clothing/?sort=name"))) == {"Cardigan", "Jumper"}
    # the filter sidebar is kept per address: what one shopper ticked is not shown to another
    chosen = client.get("/category/clothing/?colour=Navy").content.decode()
    assert 'value="Navy" checked' in chosen
    assert 'value="Navy" checked' not in client.get("/category/clothing/").content.decode()
    assert 'value="Navy" checked' in client.get("/category/clothing/?colour=Navy").content.decode()
    catalog_cache_clear()  # what an admin edit does; the rendered grid goes with its page
    assert set(titles(client.get("/category/clothing/"))) == {"Cardigan", "Jumper"}
    assert "2 products" in client.get("/category/clothing/").content.decode()
    catalog_cache_clear()


def test_listing_memory_is_bounded(client, clothing, settings, monkeypatch):
    from catalog import selectors

    settings.CATALOG_LISTING_CACHE_SECONDS = 10
    monkeypatch.setattr(selectors, "_MEMO_MAX_ENTRIES", 5)
    selectors.catalog_cache_clear()
    product_with_stock(title="Jumper", category=clothing[0])
    for price in range(1, 20):
        assert client.get(f"/category/clothing/?min_price={price}").status_code == 200
    assert len(selectors._memo) <= 5
    selectors.catalog_cache_clear()
