"""Requests Django refuses as suspicious (too many fields or files, too large a body, a
host we do not serve, a malformed cookie) answer 400 or 413 with a page that says what
was wrong, with DEBUG on or off, and never a bare "Internal Server Error"."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from checkout.models import Cart, CartLine

pytestmark = pytest.mark.django_db

TOO_MANY_FIELDS = "&".join(f"field{n}=1" for n in range(1001))


def too_many_fields_in_the_query(client):
    return client.get(f"/search/?{TOO_MANY_FIELDS}")


def too_many_fields_in_the_form(client):
    return client.post("/cart/add/", TOO_MANY_FIELDS, content_type="application/x-www-form-urlencoded")


def too_many_files(client):
    with override_settings(DATA_UPLOAD_MAX_NUMBER_FILES=2):
        files = {f"file{n}": SimpleUploadedFile(f"file{n}.txt", b"x") for n in range(3)}
        return client.post("/cart/add/", files)


def too_large_a_body(client):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        return client.post(
            "/cart/add/", "quantity=" + "1" * 2000, content_type="application/x-www-form-urlencoded"
        )


def a_host_we_do_not_serve(client):
    return client.get("/", headers={"host": "shop.example.invalid"})


def a_malformed_session_cookie(client):
    client.cookies["sessionid"] = "not a session \x00 key"
    return client.get("/cart/")


CASES = [
    (too_many_fields_in_the_query, 400, "That request had too many fields", "TooManyFieldsSent"),
    (too_many_fields_in_the_form, 400, "That request had too many fields", "TooManyFieldsSent"),
    (too_many_files, 400, "That request had too many files", "TooManyFilesSent"),
    (too_large_a_body, 413, "That request was too large", "RequestDataTooBig"),
    (a_host_we_do_not_serve, 400, "That address is not a site we serve", "DisallowedHost"),
]
IDS = [case[0].__name__ for case in CASES]


@pytest.mark.parametrize(("send", "status", "says", "_kind"), CASES, ids=IDS)
def test_a_suspicious_request_gets_the_shops_page_saying_what_was_wrong(send, status, says, _kind):
    response = send(Client(raise_request_exception=False))
    body = response.content.decode()
    assert response.status_code == status, body[:300]
    assert f"<h1>{says}</h1>" in body and "Nothing was changed." in body
    assert not Cart.objects.exists() and not CartLine.objects.exists()


@pytest.mark.parametrize(("send", "_status", "_says", "kind"), CASES, ids=IDS)
def test_with_debug_on_it_gets_djangos_report_with_400(send, _status, _says, kind):
    """Django's DEBUG page, which had failed to render for a query string that was the error."""
    with override_settings(DEBUG=True):
        response = send(Client(raise_request_exception=False))
    body = response.content.decode()
    assert response.status_code == 400, body[:300]
    assert kind in body and "Request information" in body
    assert not Cart.objects.exists() and not CartLine.objects.exists()


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_a_malformed_session_cookie_is_a_fresh_session(debug):
    client = Client(raise_request_exception=False)
    with override_settings(DEBUG=debug):
        response = a_malformed_session_cookie(client)
    assert response.status_code == 200
    assert "Your cart is empty" in response.content.decode()
