"""The sales each process keeps: read once for SALES_CACHE_SECONDS, yet each starts and ends on the
second, and a staff change is seen at once in the process that made it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from promotions.models import Promotion
from promotions.sales import live_sales, sales_forget
from promotions.staff import promotion_pause

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(settings):
    settings.SALES_CACHE_SECONDS = 60
    sales_forget()
    yield
    sales_forget()


def test_kept_sales_start_and_end_on_the_second_without_reading_again(kept):
    now = timezone.now()
    sale = Promotion.objects.create(
        name="Weekend", kind="sale", reward="percent", percent=Decimal(10),
        starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2),
    )  # fmt: skip
    assert not live_sales(now)  # read, and kept
    with CaptureQueriesContext(connection) as queries:
        assert [found.promotion_id for found in live_sales(now + timedelta(minutes=61)).running] == [sale.pk]
        assert not live_sales(now + timedelta(hours=2))
    assert len(queries) == 0


def test_a_staff_change_is_seen_at_once_in_its_process(kept):
    sale = Promotion.objects.create(name="Now", kind="sale", reward="percent", percent=Decimal(10))
    assert live_sales()
    promotion_pause(promotion_id=sale.pk)
    assert not live_sales()
