"""Full-text search with ranking, typo tolerance and a helpful empty page."""

import re

import pytest
from django.db import connection

from tests.factories import CategoryFactory, product_with_stock

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return re.findall(r'<span class="card-title">([^<]*)</span>', response.content.decode())


@pytest.fixture
def category():
    return CategoryFactory(name="Everything", slug="everything")


def test_title_matches_rank_above_description_matches(client, category):
    product_with_stock(title="Canvas Tote", description="Carries a merino jumper home.", category=category)
    product_with_stock(title="Merino Jumper", description="Warm knit.", category=category)
    product_with_stock(title="Enamel Mug", description="For tea.", category=category)

    response = client.get("/search/?q=merino")

    assert response.status_code == 200
    assert titles(response) == ["Merino Jumper", "Canvas Tote"]
    assert "2 products found" in response.content.decode()


def test_search_understands_word_forms(client, category):
    product_with_stock(title="Waxed Jacket", category=category)
    assert titles(client.get("/search/?q=jackets")) == ["Waxed Jacket"]


def test_search_tolerates_typos(client, category):
    product_with_stock(title="Lambswool Jumper", category=category)
    product_with_stock(title="Cast-Iron Skillet", category=category)
    assert titles(client.get("/search/?q=jumpr")) == ["Lambswool Jumper"]
    assert titles(client.get("/search/?q=skilet")) == ["Cast-Iron Skillet"]


def test_search_respects_filters_and_sort(client, category):
    product_with_stock(title="Cheap Jumper", price=1000, category=category)
    product_with_stock(title="Dear Jumper", price=9000, category=category)
    product_with_stock(title="Sold Jumper", price=5000, on_hand=0, category=category)

    assert titles(client.get("/search/?q=jumper&sort=price_desc")) == [
        "Dear Jumper",
        "Sold Jumper",
        "Cheap Jumper",
    ]
    assert titles(client.get("/search/?q=jumper&in_stock=1&max_price=50")) == ["Cheap Jumper"]


def test_search_hides_inactive_products(client, category):
    product_with_stock(title="Retired Jumper", is_active=False, category=category)
    assert titles(client.get("/search/?q=jumper")) == []


def test_no_results_page_helps(client, category):
    product_with_stock(title="Featured Mug", is_featured=True, category=category)

    response = client.get("/search/?q=zeppelin")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Nothing matches “zeppelin”" in body
    assert "Check the spelling" in body
    assert 'href="/category/everything/"' in body
    assert "You might like" in body and "Featured Mug" in body
    assert '<meta name="robots" content="noindex">' in body


def test_empty_query_prompts(client, category):
    response = client.get("/search/?q=+++")
    assert response.status_code == 200
    assert "Type a product name" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE catalog_product; --",
        '" OR 1=1 --',
        "jumper & | ! ( ) : * <-> \\",
        "<script>alert(1)</script>",
        "%00",
        "-",
        '"',
    ],
)
def test_hostile_queries_are_harmless(client, category, query):
    product_with_stock(title="Jumper", category=category)

    response = client.get("/search/", {"q": query})

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalog_product")
        assert cursor.fetchone() == (1,)


def test_over_long_query_is_cut_and_said(client, category):
    product_with_stock(title="Jumper", category=category)
    response = client.get("/search/", {"q": "jumper " + "x" * 5000})
    assert response.status_code == 200
    assert "we used its first 100 characters" in response.content.decode()


def test_search_query_count(client, category, django_assert_num_queries):
    for index in range(30):
        product_with_stock(title=f"Jumper {index}", category=category)
    # categories, the sales running, any full-text match?, count, page ids, page cards
    with django_assert_num_queries(6):
        response = client.get("/search/?q=jumper")
    assert len(titles(response)) == 24
