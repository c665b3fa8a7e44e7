"""Waiting to ship: every order paid for and not shipped stays on the staff's list until it ships."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import OrderFactory, UserFactory
from tests.helpers import order_states

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture
def orders():
    now = timezone.now()
    return {
        "paid": OrderFactory(number="NW501", paid_at=now - timedelta(hours=3)),
        "partly_refunded": OrderFactory(
            number="NW502", **order_states("partly_refunded"), paid_at=now - timedelta(hours=5)
        ),
        "flagged": OrderFactory(
            number="NW503", paid_at=now - timedelta(hours=1), is_flagged=True, flag_reason="Dispute dp_1"
        ),
        "shipped_partly_refunded": OrderFactory(
            number="NW504", **order_states("shipped_partly_refunded"), paid_at=now, fulfilled_at=now
        ),
        "shipped": OrderFactory(number="NW505", **order_states("shipped"), paid_at=now),
        "refunded": OrderFactory(number="NW506", **order_states("refunded"), paid_at=now),
        "unpaid": OrderFactory(number="NW507", **order_states("awaiting")),
    }


def test_a_partly_refunded_unshipped_order_stays_waiting_to_ship(staff, orders):
    # A partial refund moves an order to "partially refunded", shipped (NW504) or not (NW502).
    body = staff.get("/dashboard/").content.decode()

    waiting = body.split('id="awaiting-heading"')[1].split("</section>")[0]
    assert "Waiting to ship (3)" in waiting
    assert waiting.index("NW502") < waiting.index("NW501") < waiting.index("NW503")  # oldest payment first
    assert 'NW503</a> <span class="tag tag-warn" title="Dispute dp_1">flagged</span>' in waiting
    for number in ["NW504", "NW505", "NW506", "NW507"]:
        assert number not in waiting


def test_the_full_waiting_list_holds_the_same_orders(staff, orders):
    response = staff.get("/dashboard/orders/?status=to_ship")

    assert response.status_code == 200
    body = response.content.decode()
    listed = sorted((n for n in [f"NW50{i}" for i in range(1, 8)] if f">{n}</a>" in body), key=body.index)
    assert listed == ["NW503", "NW502", "NW501"]  # newest placed first, as the order list sorts
    assert '<option value="to_ship" selected>Waiting to ship</option>' in body


def test_the_order_list_filters_by_payment_and_by_shipping(staff, orders):
    def listed(query: str) -> list[str]:
        response = staff.get(f"/dashboard/orders/?{query}")
        assert response.status_code == 200
        body = response.content.decode()
        return sorted(n for n in [f"NW50{i}" for i in range(1, 8)] if f">{n}</a>" in body)

    assert listed("payment_status=partially_refunded") == ["NW502", "NW504"]
    assert listed("payment_status=partially_refunded&fulfilment_status=fulfilled") == ["NW504"]
    assert listed("fulfilment_status=fulfilled") == ["NW504", "NW505"]
    assert listed("status=closed") == ["NW504", "NW505", "NW506"]
    assert listed("payment_status=awaiting") == ["NW507"]


def test_a_shipped_then_partly_refunded_order_cannot_be_shipped_or_canceled_again(staff, orders):
    order = orders["shipped_partly_refunded"]
    order.carrier, order.tracking_number = "Royal Mail", "RM1"
    order.save()
    page = staff.get(f"/dashboard/orders/{order.number}/").content.decode()
    assert "Partially refunded" in page
    assert "Mark shipped" not in page and "Cancel order" not in page

    shipped = staff.post(
        f"/dashboard/orders/{order.number}/fulfil/", {"carrier": "DPD", "tracking_number": "X"}, follow=True
    )
    canceled = staff.post(f"/dashboard/orders/{order.number}/cancel/", {"reason": "oops"}, follow=True)

    assert shipped.status_code == 200
    assert f"Order {order.number} was already shipped with Royal Mail." in shipped.content.decode()
    assert "A shipped order cannot be canceled; refund it instead." in canceled.content.decode()
    order.refresh_from_db()
    states = (order.status, order.payment_status, order.fulfilment_status)
    assert (states, order.carrier, order.tracking_number, order.events.count()) == (
        ("closed", "partially_refunded", "fulfilled"),
        "Royal Mail",
        "RM1",
        0,
    )
