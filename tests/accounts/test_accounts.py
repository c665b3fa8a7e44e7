"""Shopper accounts: sign-up, sign-in/out, order history, saved addresses, passwords."""

import re
import threading
from datetime import UTC, datetime

import factory
import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection, transaction
from django.test import Client

from accounts import services
from accounts.forms import ShippingAddressForm
from accounts.models import Address
from checkout.models import Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a fresh lantern 42 ridge"


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    full_name = "Ada Lovelace"
    line1 = "12 Marsh Lane"
    city = "London"
    postcode = "SW1A 1AA"
    country = "GB"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"NW-{n:06d}")
    checkout_key = factory.Sequence(lambda n: f"checkout-key-{n}")
    email = "ada@example.com"
    full_name = "Ada Lovelace"
    line1 = "12 Marsh Lane"
    city = "London"
    postcode = "SW1A 1AA"
    country = "GB"
    shipping_method_code = "standard"
    shipping_method_name = "Standard delivery"
    currency = "GBP"
    subtotal = 2500
    shipping_total = 495
    tax_total = 500
    total = factory.LazyAttribute(lambda order: order.subtotal + order.shipping_total + order.tax_total)


def order_placed_at(when: datetime, **fields) -> Order:
    """Return a new order whose created_at is `when` (auto_now_add ignores a value passed in)."""
    order = OrderFactory(**fields)
    Order.objects.filter(pk=order.pk).update(created_at=when)
    order.refresh_from_db()
    return order


def shopper_factory(email: str = "ada@example.com", **fields):
    return UserFactory(username=email, email=email, **fields)


@pytest.fixture
def shopper():
    return shopper_factory(first_name="Ada")


@pytest.fixture
def signed_in(client, shopper):
    client.force_login(shopper)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def signed_in_user_id(client) -> str | None:
    return client.session.get(SESSION_KEY)


def address_data(**changes) -> dict[str, str]:
    data = {
        "full_name": "Ada Lovelace",
        "line1": "12 Marsh Lane",
        "line2": "",
        "city": "London",
        "postcode": "sw1a 1aa",
        "country": "GB",
        "phone": "",
    }
    data.update(changes)
    return data


# Sign-up


def signup_data(**changes) -> dict[str, str]:
    data = {"email": "Grace.Hopper@Example.COM", "first_name": "Grace", "password1": NEW_PASSWORD}
    data["password2"] = data["password1"]
    data.update(changes)
    return data


def test_signup_page_links_to_sign_in(client):
    response = client.get("/account/signup/")

    assert response.status_code == 200
    assert 'href="/account/login/"' in response.content.decode()


def test_signup_creates_the_user_signs_them_in_and_redirects(client):
    response = client.post("/account/signup/", signup_data())

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    user = User.objects.get()
    assert (user.username, user.email, user.first_name) == (
        "grace.hopper@example.com",
        "grace.hopper@example.com",
        "Grace",
    )
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_user_id(client) == str(user.pk)
    assert messages_of(response) == ["Welcome to Northwind Supply! Your account is ready."]


def test_signup_first_name_is_optional_and_a_safe_next_is_honoured(client):
    response = client.post("/account/signup/", {**signup_data(first_name=""), "next": "/checkout/"})

    assert response.status_code == 302
    assert response["Location"] == "/checkout/"
    assert User.objects.get().first_name == ""


def test_signup_ignores_an_off_site_next(client):
    response = client.post("/account/signup/", {**signup_data(), "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == "/account/"


def test_signup_refuses_an_email_already_registered_in_another_case(client, shopper):
    response = client.post("/account/signup/", signup_data(email="ADA@example.com"))

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["An account with this e-mail address already exists. Sign in, or reset your password."]
    }
    assert "An account with this e-mail address already exists." in response.content.decode()
    assert list(User.objects.values_list("username", flat=True)) == ["ada@example.com"]
    assert signed_in_user_id(client) is None


def test_signup_refuses_an_email_used_by_an_account_with_another_username(client):
    UserFactory(username="grace", email="grace.hopper@example.com")

    response = client.post("/account/signup/", signup_data())

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["email"]
    assert User.objects.count() == 1


def test_signup_refuses_mismatched_passwords(client):
    response = client.post("/account/signup/", signup_data(password2="a fresh lantern 42 ridgf"))

    assert response.status_code == 200
    assert response.context["form"].errors == {"password2": ["The two password fields didn’t match."]}
    assert User.objects.count() == 0
    assert signed_in_user_id(client) is None


def test_signup_refuses_a_weak_password(client):
    response = client.post("/account/signup/", signup_data(password1="1234567", password2="1234567"))

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "password2": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]
    }
    assert User.objects.count() == 0


def test_signup_refuses_a_password_like_the_email(client):
    response = client.post(
        "/account/signup/", signup_data(password1="grace.hopper@example", password2="grace.hopper@example")
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"password2": ["The password is too similar to the username."]}
    assert User.objects.count() == 0


def test_signup_sends_a_signed_in_shopper_to_their_account(signed_in):
    response = signed_in.get("/account/signup/")

    assert response.status_code == 302
    assert response["Location"] == "/account/"


# Sign-in and sign-out


def test_login_page_asks_for_the_email(client):
    response = client.get("/account/login/")

    assert response.status_code == 200
    content = response.content.decode()
    assert '<label for="id_username">E-mail</label>' in content
    assert 'type="email" name="username"' in content
    assert 'href="/account/password/reset/"' in content
    assert 'href="/account/signup/"' in content


def test_login_with_the_email_in_any_case(client, shopper):
    response = client.post("/account/login/", {"username": " ADA@Example.com ", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert signed_in_user_id(client) == str(shopper.pk)


def test_login_with_a_wrong_password_says_so(client, shopper):
    response = client.post("/account/login/", {"username": "ada@example.com", "password": "wrong horse"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "That e-mail address and password don’t match an account. "
        "Check them and try again; the password is case-sensitive."
    ]
    assert "match an account" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_login_honours_a_safe_next(client, shopper):
    response = client.post(
        "/account/login/?next=/account/addresses/add/", {"username": "ada@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/addresses/add/"


def test_login_page_keeps_the_next_in_its_form_and_signup_link(client):
    response = client.get("/account/login/?next=/checkout/")

    content = response.content.decode()
    assert '<input type="hidden" name="next" value="/checkout/">' in content
    assert 'href="/account/signup/?next=/checkout/"' in content


def test_login_ignores_an_off_site_next(client, shopper):
    response = client.post(
        "/account/login/",
        {"username": "ada@example.com", "password": PASSWORD, "next": "https://evil.example/steal"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert signed_in_user_id(client) == str(shopper.pk)


def test_logout_refuses_get(signed_in, shopper):
    response = signed_in.get("/account/logout/")

    assert response.status_code == 405
    assert signed_in_user_id(signed_in) == str(shopper.pk)


def test_logout_signs_out_and_goes_home(signed_in):
    response = signed_in.post("/account/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(signed_in) is None
    assert messages_of(response) == ["You’re signed out. See you soon."]


# Account home


def test_account_home_requires_sign_in(client):
    response = client.get("/account/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/"


def test_account_home_lists_only_the_shoppers_orders_newest_first(signed_in, shopper):
    older = order_placed_at(
        datetime(2025, 3, 1, 10, tzinfo=UTC),
        user=shopper,
        status=Order.Status.CLOSED,
        fulfilment_status=Order.FulfilmentStatus.FULFILLED,
    )
    newest = order_placed_at(
        datetime(2025, 5, 20, 9, tzinfo=UTC),
        user=shopper,
        subtotal=123_456,
        shipping_total=0,
        tax_total=0,
        payment_status=Order.PaymentStatus.AWAITING,
    )
    middle = order_placed_at(
        datetime(2025, 4, 2, 12, tzinfo=UTC),
        user=shopper,
        status=Order.Status.CANCELED,
        payment_status=Order.PaymentStatus.VOIDED,
    )
    someone_elses = order_placed_at(datetime(2025, 4, 3, tzinfo=UTC), user=shopper_factory("bob@example.com"))
    guest = order_placed_at(datetime(2025, 4, 4, tzinfo=UTC), user=None)

    response = signed_in.get("/account/")

    assert response.status_code == 200
    assert list(response.context["orders"]) == [newest, middle, older]
    content = response.content.decode()
    assert content.index(newest.number) < content.index(middle.number) < content.index(older.number)
    assert someone_elses.number not in content
    assert guest.number not in content
    assert f'href="/order/{newest.public_token}/"' in content
    assert "£1,234.56" in content
    assert "£34.95" in content
    assert "Awaiting payment" in content
    assert "Shipped" in content
    assert "Canceled" in content
    assert "20 May 2025" in content


def test_account_home_without_orders_or_addresses_shows_empty_states(signed_in):
    response = signed_in.get("/account/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "You haven’t placed any orders yet." in content
    assert "No saved addresses yet." in content
    assert 'action="/account/logout/"' in content


def test_account_home_lists_only_the_shoppers_addresses(signed_in, shopper):
    AddressFactory(user=shopper, line1="1 Default Road", is_default=True)
    AddressFactory(user=shopper, line1="2 Other Street")
    AddressFactory(user=shopper_factory("bob@example.com"), line1="3 Bobs Close")

    response = signed_in.get("/account/")

    content = response.content.decode()
    assert [address.line1 for address in response.context["addresses"]] == [
        "1 Default Road",
        "2 Other Street",
    ]
    assert "3 Bobs Close" not in content
    assert "Default delivery address" in content


def test_account_home_queries_do_not_grow_with_orders_and_addresses(
    signed_in, shopper, django_assert_num_queries
):
    for day in range(1, 6):
        order_placed_at(datetime(2025, 1, day, tzinfo=UTC), user=shopper)
        AddressFactory(user=shopper)

    # session, user, order count, orders page, addresses
    with django_assert_num_queries(5):
        response = signed_in.get("/account/")

    assert response.status_code == 200
    assert len(response.context["orders"]) == 5


# Saved addresses


def test_address_pages_require_sign_in(client):
    address = AddressFactory()

    response = client.post("/account/addresses/add/", address_data())
    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/addresses/add/"
    response = client.post(f"/account/addresses/{address.pk}/default/")
    assert response.status_code == 302
    assert Address.objects.count() == 1


def test_address_add_saves_a_normalised_address(signed_in, shopper):
    response = signed_in.post(
        "/account/addresses/add/",
        address_data(full_name="  Ada Lovelace ", postcode=" sw1a   1aa ", phone=" +44 (0)20  7946 0000 "),
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    address = Address.objects.get()
    assert (
        address.user,
        address.full_name,
        address.line1,
        address.line2,
        address.city,
        address.postcode,
        address.country,
        address.phone,
        address.is_default,
    ) == (
        shopper,
        "Ada Lovelace",
        "12 Marsh Lane",
        "",
        "London",
        "SW1A 1AA",
        "GB",
        "+44 (0)20 7946 0000",
        False,
    )
    assert messages_of(response) == ["Address saved."]


def test_address_add_as_default_replaces_the_previous_default(signed_in, shopper):
    previous = AddressFactory(user=shopper, is_default=True)
    bobs = AddressFactory(user=shopper_factory("bob@example.com"), is_default=True)

    response = signed_in.post("/account/addresses/add/", address_data(line1="9 New Road", is_default="on"))

    assert response.status_code == 302
    previous.refresh_from_db()
    assert previous.is_default is False
    assert list(Address.objects.filter(user=shopper, is_default=True).values_list("line1", flat=True)) == [
        "9 New Road"
    ]
    bobs.refresh_from_db()
    assert bobs.is_default is True


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"postcode": "SW1A 1A"}, {"postcode": ["Enter a valid UK postcode, like SW1A 1AA."]}),
        ({"postcode": "12345"}, {"postcode": ["Enter a valid UK postcode, like SW1A 1AA."]}),
        (
            {"phone": "020 7946 0000 ext"},
            {"phone": ["A phone number may contain only digits, spaces and + ( ) -."]},
        ),
        ({"phone": "12345"}, {"phone": ["Enter a phone number between 6 and 20 characters long."]}),
        (
            {"full_name": "   ", "city": ""},
            {"full_name": ["This field is required."], "city": ["This field is required."]},
        ),
    ],
)
def test_address_add_refuses_invalid_input(signed_in, changes, errors):
    response = signed_in.post("/account/addresses/add/", address_data(**changes))

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert Address.objects.count() == 0
    content = response.content.decode()
    for messages in errors.values():
        for message in messages:
            assert message in content


def test_address_edit_shows_and_updates_the_shoppers_address(signed_in, shopper):
    address = AddressFactory(user=shopper, line1="Old Street", is_default=True)

    page = signed_in.get(f"/account/addresses/{address.pk}/edit/")
    assert page.status_code == 200
    assert 'value="Old Street"' in page.content.decode()

    response = signed_in.post(
        f"/account/addresses/{address.pk}/edit/",
        address_data(line1="New Street", country="FR", postcode="75001 ", phone="0612345678"),
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    address.refresh_from_db()
    assert (address.line1, address.country, address.postcode, address.phone, address.is_default) == (
        "New Street",
        "FR",
        "75001",
        "0612345678",
        False,
    )
    assert messages_of(response) == ["Address updated."]


def test_address_edit_refuses_invalid_input_and_changes_nothing(signed_in, shopper):
    address = AddressFactory(user=shopper, postcode="SW1A 1AA")

    response = signed_in.post(f"/account/addresses/{address.pk}/edit/", address_data(postcode="ZZZ"))

    assert response.status_code == 200
    assert response.context["form"].errors == {"postcode": ["Enter a valid UK postcode, like SW1A 1AA."]}
    address.refresh_from_db()
    assert address.postcode == "SW1A 1AA"


def test_address_delete_asks_first_then_deletes(signed_in, shopper):
    address = AddressFactory(user=shopper)

    page = signed_in.get(f"/account/addresses/{address.pk}/delete/")
    assert page.status_code == 200
    assert "Delete this address?" in page.content.decode()
    assert Address.objects.filter(pk=address.pk).exists()

    response = signed_in.post(f"/account/addresses/{address.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert Address.objects.count() == 0
    assert messages_of(response) == ["Address deleted."]


def test_address_default_leaves_exactly_one_default(signed_in, shopper):
    first = AddressFactory(user=shopper, is_default=True)
    second = AddressFactory(user=shopper)
    bobs = AddressFactory(user=shopper_factory("bob@example.com"), is_default=True)

    response = signed_in.post(f"/account/addresses/{second.pk}/default/")

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert set(Address.objects.filter(is_default=True).values_list("pk", flat=True)) == {second.pk, bobs.pk}
    first.refresh_from_db()
    assert first.is_default is False
    assert messages_of(response) == ["Default delivery address updated."]


def test_address_default_refuses_get(signed_in, shopper):
    address = AddressFactory(user=shopper)

    response = signed_in.get(f"/account/addresses/{address.pk}/default/")

    assert response.status_code == 405
    address.refresh_from_db()
    assert address.is_default is False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/account/addresses/{pk}/edit/"),
        ("post", "/account/addresses/{pk}/edit/"),
        ("get", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/default/"),
    ],
)
def test_another_shoppers_address_is_not_found(signed_in, method, path):
    bobs = AddressFactory(user=shopper_factory("bob@example.com"), line1="Bobs Lane", is_default=False)

    response = getattr(signed_in, method)(path.format(pk=bobs.pk), address_data(line1="Taken"))

    assert response.status_code == 404
    bobs.refresh_from_db()
    assert (bobs.line1, bobs.is_default) == ("Bobs Lane", False)


def test_address_posts_need_a_csrf_token(shopper):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shopper)

    response = client.post("/account/addresses/add/", address_data())

    assert response.status_code == 403
    assert Address.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_address_default_changes_for_one_shopper_happen_one_at_a_time():
    """A default chosen while another change holds the shopper's lock still ends up the only one."""
    shopper = shopper_factory()
    chosen = AddressFactory(user=shopper)
    finished = []

    def choose_default() -> None:
        try:
            services.address_set_default(user=shopper, address_id=chosen.pk)
            finished.append(True)
        finally:
            connection.close()

    with transaction.atomic():
        User.objects.select_for_update().get(pk=shopper.pk)
        worker = threading.Thread(target=choose_default)
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()
        # Created while the worker waits: its update must still see and clear this default.
        AddressFactory(user=shopper, is_default=True)
    worker.join(timeout=10)

    assert finished == [True]
    assert list(Address.objects.filter(is_default=True).values_list("pk", flat=True)) == [chosen.pk]


# The form checkout reuses


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("GB", " ec1a  1bb ", "EC1A 1BB"),
        ("GB", "M1 1AE", "M1 1AE"),
        ("GB", "gir0aa", "GIR 0AA"),
        ("FR", "75001", "75001"),
        ("NL", "1012  ab", "1012 AB"),
        ("US", "94105-1804", "94105-1804"),
        ("IE", "D02", "D02"),
    ],
)
def test_shipping_address_form_normalises_postcodes(country, typed, stored):
    form = ShippingAddressForm(address_data(country=country, postcode=typed))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["postcode"] == stored


@pytest.mark.parametrize(
    ("country", "typed", "error"),
    [
        ("GB", "QA1 1AA", "Enter a valid UK postcode, like SW1A 1AA."),
        ("GB", "SW1A", "Enter a valid UK postcode, like SW1A 1AA."),
        ("FR", "7", "Enter a postcode between 2 and 16 characters long."),
        ("US", "9410#", "A postcode may contain only letters, numbers, spaces and hyphens."),
        ("DE", "12345 123456 1234", "Ensure this value has at most 16 characters (it has 17)."),
    ],
)
def test_shipping_address_form_refuses_bad_postcodes(country, typed, error):
    form = ShippingAddressForm(address_data(country=country, postcode=typed))

    assert form.errors == {"postcode": [error]}


def test_shipping_address_form_has_no_default_flag():
    assert list(ShippingAddressForm.base_fields) == [
        "full_name",
        "line1",
        "line2",
        "city",
        "postcode",
        "country",
        "phone",
    ]


# Password reset and change


def test_password_reset_sends_a_link_that_sets_a_new_password(client, shopper):
    response = client.post("/account/password/reset/", {"email": "ADA@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/account/password/reset/sent/"
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == "Reset your Northwind Supply password"
    assert email.to == ["ada@example.com"]
    links = re.findall(r"http://testserver(/account/password/reset/[^/\s]+/[^/\s]+/)", email.body)
    assert len(links) == 1
    assert email.body.startswith("Hello Ada,")

    response = client.get(links[0])
    assert response.status_code == 302
    form_url = response["Location"]
    assert form_url.endswith("/set-password/")
    page = client.get(form_url)
    assert page.status_code == 200
    assert "Choose a new password" in page.content.decode()

    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/account/password/reset/complete/"
    complete = client.get("/account/password/reset/complete/")
    assert 'href="/account/login/"' in complete.content.decode()
    shopper.refresh_from_db()
    assert shopper.check_password(NEW_PASSWORD)
    assert signed_in_user_id(client) is None

    wrong = client.post("/account/login/", {"username": "ada@example.com", "password": PASSWORD})
    assert wrong.status_code == 200
    response = client.post("/account/login/", {"username": "ada@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(shopper.pk)

    # The link works once.
    used = client.get(links[0])
    assert used.status_code == 200
    assert "Reset link not valid" in used.content.decode()


def test_password_reset_for_an_unknown_email_sends_nothing_but_looks_the_same(client, shopper):
    response = client.post("/account/password/reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/account/password/reset/sent/"
    assert mail.outbox == []


def test_password_reset_with_a_broken_link_says_it_is_not_valid(client, shopper):
    response = client.get("/account/password/reset/MQ/not-a-token/")

    assert response.status_code == 200
    assert "Reset link not valid" in response.content.decode()
    assert 'href="/account/password/reset/"' in response.content.decode()


def test_password_change_keeps_the_shopper_signed_in(signed_in, shopper):
    response = signed_in.post(
        "/account/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/password/change/done/"
    shopper.refresh_from_db()
    assert shopper.check_password(NEW_PASSWORD)
    assert signed_in.get("/account/password/change/done/").status_code == 200
    assert signed_in.get("/account/").status_code == 200


def test_password_change_refuses_a_wrong_old_password(signed_in, shopper):
    response = signed_in.post(
        "/account/password/change/",
        {"old_password": "wrong horse", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "old_password": ["Your old password was entered incorrectly. Please enter it again."]
    }
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_password_change_requires_sign_in(client):
    response = client.get("/account/password/change/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/password/change/"
