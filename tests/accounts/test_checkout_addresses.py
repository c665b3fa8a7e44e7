"""Addresses at checkout: saved when the shopper asks, filled in next time, never duplicated."""

import re

import pytest

from accounts.models import Address
from checkout.models import Order
from tests.factories import UserFactory

ADDRESS = {
    "full_name": "Ann Walker",
    "line1": "1 High Street",
    "line2": "",
    "city": "Kendal",
    "postcode": "LA9 4DT",
    "country": "GB",
    "phone": "",
}


@pytest.fixture
def ann(transactional_db):
    return UserFactory(username="ann@example.com", email="ann@example.com")


@pytest.fixture
def signed_in(client, ann):
    client.force_login(ann)
    return client


def checkout_page(client, variant) -> str:
    assert client.post("/cart/add/", {"variant": variant.pk, "quantity": 1}).status_code == 302
    response = client.get("/checkout/")
    assert response.status_code == 200
    return response.content.decode()


def place(client, body: str, **fields):
    hidden = {
        "cart_version": re.search(r'name="cart_version" value="(\d+)"', body).group(1),
        "quote": re.search(r'name="quote" value="([^"]+)"', body).group(1),
    }
    data = {"email": "ann@example.com", "shipping_method": "standard", **ADDRESS, **hidden, **fields}
    return client.post("/checkout/", data, follow=True)


def saved(user) -> list[tuple]:
    return list(
        Address.objects.filter(user=user)
        .order_by("created_at", "pk")
        .values_list("full_name", "line1", "city", "postcode", "country", "is_default")
    )


def field_value(body: str, name: str) -> str:
    match = re.search(rf'<input type="text" name="{name}" value="([^"]*)"', body)
    return match.group(1) if match else ""


def test_the_address_is_saved_when_asked_and_filled_in_next_time(outside, shipping, signed_in, ann, jumper):
    body = checkout_page(signed_in, jumper)
    assert "Save this address to my account, to use next time" in body
    assert 'name="save_address"' in body and "checked" not in body.split('name="save_address"')[1][:40]

    response = place(signed_in, body, save_address="on")

    assert response.status_code == 200 and "Address saved to your account for next time." in (
        response.content.decode()
    )
    assert saved(ann) == [("Ann Walker", "1 High Street", "Kendal", "LA9 4DT", "GB", True)]

    # The next checkout starts with it.
    again = checkout_page(signed_in, jumper)
    assert field_value(again, "full_name") == "Ann Walker"
    assert field_value(again, "line1") == "1 High Street"
    assert field_value(again, "city") == "Kendal"
    assert field_value(again, "postcode") == "LA9 4DT"
    assert "Ann Walker, 1 High Street, LA9 4DT (default)" in again


def test_an_identical_address_is_not_saved_twice(outside, shipping, signed_in, ann, jumper):
    place(signed_in, checkout_page(signed_in, jumper), save_address="on")

    response = place(
        signed_in,
        checkout_page(signed_in, jumper),
        save_address="on",
        full_name="ANN WALKER",
        line1="1 high street",
        postcode="la9 4dt",
    )

    assert response.status_code == 200
    assert "Address saved" not in response.content.decode()
    assert Order.objects.count() == 2
    assert saved(ann) == [("Ann Walker", "1 High Street", "Kendal", "LA9 4DT", "GB", True)]


def test_a_second_address_is_saved_beside_the_default_and_can_be_picked(
    outside, shipping, signed_in, ann, jumper
):
    place(signed_in, checkout_page(signed_in, jumper), save_address="on")
    place(
        signed_in,
        checkout_page(signed_in, jumper),
        save_address="on",
        full_name="Ann at Work",
        line1="5 Mill Yard",
        postcode="LA9 6AB",
    )
    assert saved(ann) == [
        ("Ann Walker", "1 High Street", "Kendal", "LA9 4DT", "GB", True),
        ("Ann at Work", "5 Mill Yard", "Kendal", "LA9 6AB", "GB", False),
    ]

    body = checkout_page(signed_in, jumper)
    assert field_value(body, "line1") == "1 High Street"  # the default comes first
    work = Address.objects.get(line1="5 Mill Yard")
    assert f'href="?address={work.pk}"' in body
    picked = signed_in.get(f"/checkout/?address={work.pk}").content.decode()
    assert field_value(picked, "full_name") == "Ann at Work" and field_value(picked, "line1") == "5 Mill Yard"


def test_nothing_is_saved_without_the_shoppers_consent(outside, shipping, signed_in, ann, jumper):
    response = place(signed_in, checkout_page(signed_in, jumper))

    assert response.status_code == 200 and Order.objects.count() == 1
    assert saved(ann) == []


def test_nothing_is_saved_when_the_order_is_not_placed(outside, shipping, signed_in, ann, jumper):
    body = checkout_page(signed_in, jumper)
    jumper.price = 7000
    jumper.save()

    response = place(signed_in, body, save_address="on")

    assert response.status_code == 409 and not Order.objects.exists()
    assert saved(ann) == []
    assert 'name="save_address" id="id_save_address" checked' in response.content.decode()


def test_a_guest_is_not_offered_to_save_and_nothing_is_saved(outside, shipping, client, jumper):
    body = checkout_page(client, jumper)
    assert 'name="save_address"' not in body

    response = place(client, body, save_address="on")

    assert response.status_code == 200 and Order.objects.get().user_id is None
    assert not Address.objects.exists()


def test_a_saved_address_abroad_starts_the_checkout_with_its_country_and_delivery(
    outside, shipping, signed_in, ann, jumper
):
    Address.objects.create(
        user=ann, full_name="Ann Walker", line1="3 Rue Lepic", city="Paris", postcode="75018", country="FR"
    )

    body = checkout_page(signed_in, jumper)

    assert '<option value="FR" selected>France</option>' in body
    assert "<th>Delivery to France</th>" in body
    # Standard delivery to Europe £9.95, no free threshold: £65.00 + £9.95 = £74.95; French VAT at
    # 20 % inside it: 6500*20/120 = 1083.33 -> 1083 and 995*20/120 = 165.83 -> 166, so £12.49.
    assert 'data-total="delivery">£9.95<' in body and 'data-total="total">£74.95<' in body
    assert 'data-total="tax">£12.49<' in body
    response = place(signed_in, body, line1="3 Rue Lepic", city="Paris", postcode="75018", country="FR")
    assert response.status_code == 200
    order = Order.objects.get()
    assert (order.country, order.total, order.tax_total) == ("FR", 7495, 1249)
