"""A product published with a time is shown, and sold, only from that time on."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product
from checkout.models import CartLine
from tests.factories import CategoryFactory, product_with_stock

pytestmark = pytest.mark.django_db


def test_a_product_is_shown_and_sold_from_its_publishing_time(client):
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    pan = product_with_stock(title="Pan", slug="pan", category=category)
    Product.objects.filter(pk=pan.pk).update(publish_at=timezone.now() + timedelta(hours=1))
    variant = pan.variants.get()

    assert "Pan" not in client.get("/category/kitchen/").content.decode()
    assert client.get("/products/pan/").status_code == 404
    client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    assert not CartLine.objects.exists()

    Product.objects.filter(pk=pan.pk).update(publish_at=timezone.now() - timedelta(minutes=1))
    assert "Pan" in client.get("/category/kitchen/").content.decode()
    assert client.get("/products/pan/").status_code == 200
    client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    assert CartLine.objects.get().variant_id == variant.pk
