"""The staff dashboard: who may open it, the figures it shows, and the lists staff work from."""

import csv
import io
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from checkout.models import Order, Payment, Refund, WebhookEvent
from dashboard.selectors import chart_layout, daily_sales, period_starts
from tests.factories import OrderFactory, PaymentFactory, StockFactory, UserFactory, VariantFactory
from tests.helpers import order_states

pytestmark = pytest.mark.django_db

PAGES = ["/dashboard/", "/dashboard/orders/", "/dashboard/orders/export.csv", "/dashboard/stock/"]


def make_order(number: str, *, total: int = 1000, paid_at=None, state: str = "paid", **fields) -> Order:
    values = {"email": f"{number.lower()}@example.com", **order_states(state)}
    order = OrderFactory(number=number, subtotal=total, total=total, paid_at=paid_at, **(values | fields))
    if paid_at:
        PaymentFactory(order=order, payment_intent_id=f"pi_{number}", amount_received=0)
    if "created_at" not in fields and paid_at:
        Order.objects.filter(pk=order.pk).update(created_at=paid_at - timedelta(minutes=5))
    return order


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.mark.parametrize("url", PAGES + ["/dashboard/orders/NW1/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    make_order("NW1")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=/dashboard/")


@pytest.mark.parametrize("url", PAGES + ["/dashboard/orders/NW1/"])
def test_customers_get_403(client, url):
    make_order("NW1")
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 403
    assert "This part of the shop is for staff." in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/orders/NW1/fulfil/",
        "/dashboard/orders/NW1/refund/",
        "/dashboard/orders/NW1/cancel/",
        "/dashboard/orders/NW1/resolve-flag/",
        "/dashboard/stock/1/adjust/",
        "/dashboard/webhooks/1/replay/",
    ],
)
def test_customers_cannot_call_actions_directly(client, url):
    order = make_order("NW1", is_flagged=True, flag_reason="check")
    client.force_login(UserFactory())
    response = client.post(
        url,
        {
            "carrier": "DPD",
            "tracking_number": "X",
            "amount": "1",
            "reason": "x",
            "request_key": "k",
            "on_hand": "5",
        },
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert (order.payment_status, order.is_flagged, order.carrier) == ("paid", True, "")


@pytest.mark.parametrize("url", PAGES)
def test_staff_can_open_every_page(staff, url):
    make_order("NW1", paid_at=timezone.now())
    assert staff.get(url).status_code == 200


def test_figures_on_a_known_data_set(staff):
    now = timezone.now()
    today = period_starts(now)["today"]
    make_order("NW1", total=1000, paid_at=today + timedelta(seconds=1))
    make_order("NW2", total=3000, paid_at=today + timedelta(seconds=2))
    make_order("NW3", total=5000, paid_at=today - timedelta(days=3))
    make_order("NW4", total=7000, paid_at=today - timedelta(days=20), state="shipped")
    make_order("NW5", total=9000, paid_at=today - timedelta(days=40), state="shipped")  # too old
    make_order("NW6", total=9900, state="awaiting")  # never paid
    refund_today = Refund.objects.create(
        order=Order.objects.get(number="NW1"),
        payment=Payment.objects.get(order__number="NW1"),
        stripe_refund_id="re_1",
        amount=500,
        currency="GBP",
        status="succeeded",
    )
    Refund.objects.create(
        order=Order.objects.get(number="NW4"),
        payment=Payment.objects.get(order__number="NW4"),
        stripe_refund_id="re_2",
        amount=1000,
        currency="GBP",
        status="succeeded",
    )
    Refund.objects.filter(stripe_refund_id="re_2").update(created_at=today - timedelta(days=10))
    assert refund_today.created_at >= today

    body = staff.get("/dashboard/").content.decode()

    cards = body.split('class="figure-card"')[1:]
    assert len(cards) == 3
    expected = [
        ("Today", "£40.00", "2", "£20.00", "£5.00"),
        ("Last 7 days", "£90.00", "3", "£30.00", "£5.00"),
        ("Last 30 days", "£160.00", "4", "£40.00", "£15.00"),
    ]
    for card, (label, revenue, orders, average, refunds) in zip(cards, expected, strict=True):
        assert f"<h2>{label}</h2>" in card
        assert f'<dd class="big">{revenue}</dd>' in card
        assert f"<dt>Orders</dt><dd>{orders}</dd>" in card
        assert f"<dt>Average order</dt><dd>{average}</dd>" in card
        assert f"<dt>Refunds</dt><dd>{refunds}</dd>" in card


def test_daily_chart_has_30_days_with_gaps_as_zeros(staff):
    now = timezone.now()
    today = period_starts(now)["today"]
    make_order("NW1", total=1000, paid_at=today + timedelta(seconds=1))
    make_order("NW2", total=2500, paid_at=today - timedelta(days=2) + timedelta(hours=1))
    make_order("NW3", total=500, paid_at=today - timedelta(days=2) + timedelta(hours=2))

    points = async_to_sync(daily_sales)(now=now)

    assert len(points) == 30
    assert points[-1].day == today.date() and (points[-1].revenue, points[-1].orders) == (1000, 1)
    assert (points[-3].revenue, points[-3].orders) == (3000, 2)
    assert sum(p.orders for p in points) == 3
    chart = chart_layout(points)
    assert chart.max_revenue == 3000 and chart.max_orders == 2
    tallest = max(chart.bars, key=lambda bar: bar[3])
    assert tallest[4].revenue == 3000
    body = staff.get("/dashboard/").content.decode()
    assert "<svg" in body and "<polyline" in body and "Show the figures as a table" in body


def test_home_page_queries_stay_bounded(staff, django_assert_max_num_queries):
    now = timezone.now()
    for index in range(40):
        make_order(
            f"NW{index}",
            paid_at=now - timedelta(days=index % 35),
            is_flagged=index % 10 == 0,
            flag_reason="check",
        )
        StockFactory(variant=VariantFactory(), on_hand=index % 4)
        WebhookEvent.objects.create(stripe_event_id=f"evt_{index}", type="x", payload={})
    with django_assert_max_num_queries(13):  # one of them reads the staff member's permissions
        assert staff.get("/dashboard/").status_code == 200


def test_work_lists(staff):
    now = timezone.now()
    make_order("NW2", paid_at=now - timedelta(hours=1))
    make_order("NW1", paid_at=now - timedelta(hours=5))
    make_order("NW3", paid_at=now - timedelta(hours=9), state="shipped")
    make_order("NW9", paid_at=now, is_flagged=True, flag_reason="Payment does not match the order total")
    StockFactory(variant=VariantFactory(sku="LOW-1"), on_hand=3, low_stock_threshold=5)
    StockFactory(variant=VariantFactory(sku="GONE-1"), on_hand=2, allocated=2)
    StockFactory(variant=VariantFactory(sku="PLENTY"), on_hand=50)
    WebhookEvent.objects.create(
        stripe_event_id="evt_bad",
        type="payment_intent.succeeded",
        payload={},
        error="PaymentGatewayUnavailable: down",
    )

    body = staff.get("/dashboard/").content.decode()

    waiting = body.split('id="awaiting-heading"')[1].split("</section>")[0]
    assert "Waiting to ship (3)" in body
    assert waiting.index("NW1") < waiting.index("NW2") < waiting.index("NW9")  # oldest payment first
    assert "NW3" not in waiting
    assert "Payment does not match the order total" in body
    assert "LOW-1" in body.split('id="low-heading"')[1].split("</section>")[0]
    assert "GONE-1" in body.split('id="out-heading"')[1].split("</section>")[0]
    assert "PLENTY" not in body
    assert 'class="failed"' in body and "PaymentGatewayUnavailable: down" in body


def test_order_list_search_and_filters(staff):
    now = timezone.now()
    make_order("NW100", paid_at=now, email="ann@example.com")
    make_order("NW101", paid_at=now - timedelta(days=10), email="bob@example.com", state="shipped")
    make_order("NW102", state="awaiting", is_flagged=True, flag_reason="x", email="cat@example.com")

    def numbers(query: str) -> list[str]:
        response = staff.get(f"/dashboard/orders/?{query}")
        assert response.status_code == 200
        return [n for n in ["NW100", "NW101", "NW102"] if f">{n}</a>" in response.content.decode()]

    assert numbers("") == ["NW100", "NW101", "NW102"]
    assert numbers("q=nw101") == ["NW101"]
    assert numbers("q=ANN@example.com") == ["NW100"]
    assert numbers("q=bob") == ["NW101"]
    assert numbers("fulfilment_status=fulfilled") == ["NW101"]
    assert numbers("payment_status=awaiting") == ["NW102"]
    assert numbers("flagged=on") == ["NW102"]
    assert numbers(f"date_from={(now - timedelta(days=3)).date()}") == ["NW100", "NW102"]
    assert numbers("status=nonsense") == [
        "NW100",
        "NW101",
        "NW102",
    ]  # an invalid filter is shown, not applied
    assert staff.get("/dashboard/orders/?page=99").status_code == 404
    assert staff.get("/dashboard/orders/?page=x").status_code == 404


def test_csv_export_streams_the_filtered_orders(staff):
    now = timezone.now()
    make_order("NW100", total=1250, paid_at=now, full_name="=HYPERLINK(evil)")
    make_order("NW101", total=999, paid_at=now - timedelta(days=1), state="shipped")

    response = staff.get("/dashboard/orders/export.csv?payment_status=paid&fulfilment_status=unfulfilled")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')

    async def body() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    rows = list(csv.reader(io.StringIO(async_to_sync(body)().decode())))
    assert rows[0] == [
        "number",
        "created_at",
        "paid_at",
        "status",
        "payment_status",
        "fulfilment_status",
        "email",
        "full_name",
        "country",
        "currency",
        "subtotal_net",
        "shipping_net",
        "tax",
        "total",
        "flagged",
    ]
    assert len(rows) == 2
    (
        number,
        _created,
        _paid,
        status,
        payment,
        shipping_status,
        email,
        name,
        country,
        currency,
        subtotal,
        shipping,
        tax,
        total,
        flagged,
    ) = rows[1]
    assert (number, status, payment, shipping_status) == ("NW100", "Open", "Paid", "Not shipped")
    assert (email, country, currency) == ("nw100@example.com", "GB", "GBP")
    assert (subtotal, shipping, tax, total, flagged) == ("12.50", "0.00", "0.00", "12.50", "no")
    assert name == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet


def test_unknown_order_is_404(staff):
    assert staff.get("/dashboard/orders/NW404/").status_code == 404


def test_resolving_a_flag_is_recorded(staff):
    order = make_order("NW1", paid_at=timezone.now(), is_flagged=True, flag_reason="Dispute dp_1 opened")
    staff.post("/dashboard/orders/NW1/resolve-flag/")
    order.refresh_from_db()
    assert not order.is_flagged
    event = order.events.get()
    assert event.message == "Flag resolved: Dispute dp_1 opened" and event.actor.is_staff


def test_csv_export_crosses_chunks_without_losing_or_repeating_rows(staff, monkeypatch):
    from dashboard import export

    monkeypatch.setattr(export, "EXPORT_CHUNK", 2)
    moment = timezone.now()
    for index in range(5):
        make_order(f"NW{index}", paid_at=moment)
    Order.objects.update(created_at=moment)  # equal times: the id breaks the tie

    response = staff.get("/dashboard/orders/export.csv")

    async def body() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    rows = list(csv.reader(io.StringIO(async_to_sync(body)().decode())))[1:]
    assert sorted(row[0] for row in rows) == [f"NW{index}" for index in range(5)]
