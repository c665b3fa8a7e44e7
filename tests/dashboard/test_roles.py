"""Staff roles: each person sees only the dashboard sections their roles open, and every page and
action of the others answers 403 and changes nothing."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import CATALOGUE, ORDERS, ROLES, SETTINGS, roles_ensure
from checkout.models import Order
from inventory.models import Stock
from promotions.models import Promotion
from shipping.models import ShippingZone
from tests.factories import OrderFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db

# One page and one action of each section (the action with data that would change something).
SECTIONS = {
    "orders": ("/dashboard/orders/", "/dashboard/orders/NW1/cancel/", {"reason": "customer"}),
    "stock": ("/dashboard/stock/", "/dashboard/stock/{variant}/adjust/", {"change": "5", "reason": "count"}),
    "promotions": (
        "/dashboard/promotions/",
        "/dashboard/promotions/add/",
        {"name": "X", "reward": "percent", "percent": "10"},
    ),
    "settings": (
        "/dashboard/tax-delivery/",
        "/dashboard/tax-delivery/zones/add/",
        {"name": "Z", "countries": ["FR"]},
    ),
}
OPENS = {CATALOGUE: {"stock", "promotions"}, ORDERS: {"orders"}, SETTINGS: {"settings"}}
NAV = {
    "orders": ">Orders</a>",
    "stock": ">Stock</a>",
    "promotions": ">Promotions</a>",
    "settings": ">Tax &amp; delivery</a>",
}


@pytest.fixture
def shop_state():
    OrderFactory(number="NW1", payment_status="awaiting")
    return {"variant": StockFactory(variant=VariantFactory()).variant_id}


def everything() -> tuple:
    return (
        list(Order.objects.values_list("status", "payment_status")),
        list(Stock.objects.values_list("on_hand")),
        Promotion.objects.count(),
        ShippingZone.objects.count(),
    )


@pytest.mark.parametrize("role", [CATALOGUE, ORDERS, SETTINGS])
def test_each_role_opens_its_sections_and_is_refused_the_others(client, shop_state, role):
    client.force_login(UserFactory(is_staff=True, roles=[role]))
    home = client.get("/dashboard/")
    assert home.status_code == 200
    body = home.content.decode()
    before = everything()
    for section, (page, action, data) in SECTIONS.items():
        allowed = section in OPENS[role]
        assert (NAV[section] in body) is allowed, section
        assert client.get(page).status_code == (200 if allowed else 403), page
        if not allowed:
            refused = client.post(action.format(**shop_state), data)
            assert refused.status_code == 403, action
            assert "Your role does not include" in refused.content.decode()
    assert everything() == before


def test_staff_without_a_role_see_only_the_overview_and_are_told_why(client, shop_state):
    client.force_login(UserFactory(is_staff=True, roles=[]))
    body = client.get("/dashboard/").content.decode()
    assert "Your account has no staff role yet" in body
    assert not any(link in body for link in NAV.values())
    assert "Waiting to ship" not in body and "Recent payment events" not in body
    for page, _action, _data in SECTIONS.values():
        assert client.get(page).status_code == 403


def test_a_superuser_may_do_everything(client, shop_state):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    body = client.get("/dashboard/").content.decode()
    assert all(link in body for link in NAV.values())
    for page, _action, _data in SECTIONS.values():
        assert client.get(page).status_code == 200


def test_the_three_roles_hold_their_permissions_whatever_they_held(django_user_model):
    group, _ = Group.objects.get_or_create(name=ORDERS)
    group.permissions.clear()
    groups = roles_ensure()
    assert set(groups) == set(ROLES)
    orders = {f"{p.content_type.app_label}.{p.codename}" for p in groups[ORDERS].permissions.all()}
    assert {"checkout.change_order", "checkout.add_refund"} <= orders
    assert not any(name.startswith(("catalog.", "shipping.")) for name in orders)
    settings = {p.content_type.app_label for p in groups[SETTINGS].permissions.all()}
    assert settings == {"taxes", "shipping"}
