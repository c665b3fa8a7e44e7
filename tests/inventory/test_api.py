"""The inventory API over HTTP: auth, levels, reserve, commit, release, expiry, bad input."""

import io
import json
import uuid
from datetime import UTC, timedelta

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Reservation, ReservationLine, Stock
from tests.factories import StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db

TOKEN = "test-inventory-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEVELS_URL = "/inventory/v1/levels"
RESERVATIONS_URL = "/inventory/v1/reservations"


def stock(sku: str, *, on_hand: int, allocated: int = 0, is_active: bool = True) -> Stock:
    variant = VariantFactory(sku=sku, is_active=is_active)
    return StockFactory(variant=variant, on_hand=on_hand, allocated=allocated)


def reserve(client, body, *, key: str = "k1", headers: dict | None = None):
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        RESERVATIONS_URL,
        data=payload,
        content_type="application/json",
        headers={**AUTH, "Idempotency-Key": key, **(headers or {})},
    )


def post(client, url: str):
    return client.post(url, headers=AUTH)


def levels_of(*skus: str) -> dict[str, tuple[int, int]]:
    """Return {sku: (on_hand, allocated)} read from the database."""
    rows = Stock.objects.filter(variant__sku__in=skus).values_list("variant__sku", "on_hand", "allocated")
    return {sku: (on_hand, allocated) for sku, on_hand, allocated in rows}


def database_state() -> tuple:
    """Return everything the API may change, to compare before and after a failure."""
    return (
        sorted(Stock.objects.values_list("variant_id", "on_hand", "allocated")),
        sorted(
            (str(pk), status, expires_at)
            for pk, status, expires_at in Reservation.objects.values_list("pk", "status", "expires_at")
        ),
        sorted(ReservationLine.objects.values_list("reservation_id", "sku", "quantity")),
    )


def iso(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def shelves():
    """Two SKUs: A with 15 on hand (3 held elsewhere), B with 4."""
    return stock("A", on_hand=15, allocated=3), stock("B", on_hand=4)


# --- auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer tëst-inventory-token"},
    ],
    ids=["missing", "wrong", "other-scheme", "no-scheme", "empty", "non-ascii"],
)
def test_requests_without_the_token_get_401_and_change_nothing(client, shelves, headers):
    before = database_state()

    responses = [
        client.get(f"{LEVELS_URL}?sku=A", headers=headers),
        client.post(
            RESERVATIONS_URL,
            data=json.dumps({"reference": "order-1", "lines": [{"sku": "A", "quantity": 1}]}),
            content_type="application/json",
            headers={**headers, "Idempotency-Key": "k1"},
        ),
        client.post(f"{RESERVATIONS_URL}/{uuid.uuid4()}/commit", headers=headers),
    ]

    for response in responses:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="inventory"'
        assert response.json() == {
            "error": "unauthorized",
            "detail": "A valid bearer token is required.",
            "message": "A valid bearer token is required.",
            "retryable": False,
        }
    assert database_state() == before


def test_bearer_scheme_is_case_insensitive(client, shelves):
    response = client.get(f"{LEVELS_URL}?sku=B", headers={"Authorization": f"bearer {TOKEN}"})

    assert response.status_code == 200


def test_post_needs_no_csrf_token(shelves):
    client = Client(enforce_csrf_checks=True)

    response = reserve(client, {"reference": "order-1", "lines": [{"sku": "B", "quantity": 1}]})

    assert response.status_code == 201


# --- levels ------------------------------------------------------------------------------------


def test_levels_in_the_order_asked_with_unknown_skus_listed(client, shelves):
    stock("OFF", on_hand=9, is_active=False)
    VariantFactory(sku="NO-STOCK-ROW")

    response = client.get(f"{LEVELS_URL}?sku=B&sku=NOPE&sku=A&sku=B&sku=OFF&sku=NO-STOCK-ROW", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "levels": [
            {"sku": "B", "on_hand": 4, "allocated": 0, "available": 4},
            {"sku": "A", "on_hand": 15, "allocated": 3, "available": 12},
        ],
        "unknown": ["NOPE", "OFF", "NO-STOCK-ROW"],
    }


def test_levels_url_is_named(shelves):
    assert reverse("inventory:levels") == LEVELS_URL


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("", "Give at least one sku parameter."),
        ("?other=A", "Give at least one sku parameter."),
        ("?" + "&".join(f"sku=S{n}" for n in range(101)), "Give at most 100 sku parameters."),
        ("?sku=", "Each sku must be 1 to 64 characters, without NUL."),
        ("?sku=" + "X" * 65, "Each sku must be 1 to 64 characters, without NUL."),
        ("?sku=A%00B", "Each sku must be 1 to 64 characters, without NUL."),
    ],
    ids=["none", "other-param", "101", "empty", "too-long", "nul"],
)
def test_levels_bad_queries_get_400(client, query, detail):
    response = client.get(LEVELS_URL + query, headers=AUTH)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": detail,
        "message": detail,
        "retryable": False,
    }


def test_levels_accepts_100_skus(client, shelves):
    query = "&".join(["sku=A"] + [f"sku=S{n}" for n in range(99)])

    response = client.get(f"{LEVELS_URL}?{query}", headers=AUTH)

    assert response.status_code == 200
    assert response.json()["levels"] == [{"sku": "A", "on_hand": 15, "allocated": 3, "available": 12}]
    assert len(response.json()["unknown"]) == 99


# --- reserve -----------------------------------------------------------------------------------


def test_reserve_holds_stock_and_returns_201(client, shelves):
    response = reserve(
        client,
        {
            "reference": "order-1042",
            "lines": [{"sku": "B", "quantity": 4}, {"sku": "A", "quantity": 2}],
            "ttl_seconds": 900,
        },
    )

    assert response.status_code == 201
    reservation = Reservation.objects.get()
    assert response.json() == {
        "id": str(reservation.pk),
        "reference": "order-1042",
        "status": "held",
        "expires_at": iso(reservation.expires_at),
        "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 4}],
    }
    assert response.json()["expires_at"].endswith("Z")
    assert timedelta(seconds=899) < reservation.expires_at - reservation.created_at <= timedelta(seconds=900)
    assert reservation.idempotency_key == "k1"
    assert sorted(reservation.lines.values_list("sku", "quantity")) == [("A", 2), ("B", 4)]
    assert levels_of("A", "B") == {"A": (15, 5), "B": (4, 4)}


def test_reserve_without_ttl_uses_the_setting(client, shelves, settings):
    settings.RESERVATION_TTL = 120

    response = reserve(client, {"reference": "order-1", "lines": [{"sku": "A", "quantity": 1}]})

    assert response.status_code == 201
    reservation = Reservation.objects.get()
    assert timedelta(seconds=119) < reservation.expires_at - reservation.created_at <= timedelta(seconds=120)


def test_reserve_exactly_what_is_available(client, shelves):
    response = reserve(client, {"reference": "order-1", "lines": [{"sku": "A", "quantity": 12}]})

    assert response.status_code == 201
    assert levels_of("A") == {"A": (15, 15)}


def test_reserve_is_all_or_nothing_and_reports_the_short_line(client, shelves):
    before = database_state()

    response = reserve(
        client,
        {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 5}]},
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": "insufficient_stock",
        "detail": "Not enough stock for B (5 asked, 4 available).",
        "message": "Not enough stock for B (5 asked, 4 available).",
        "retryable": False,
        "lines": [{"sku": "B", "requested": 5, "available": 4}],
    }
    assert database_state() == before
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}


def test_reserve_reports_every_short_line(client, shelves):
    stock("C", on_hand=100)
    before = database_state()

    response = reserve(
        client,
        {
            "reference": "order-1",
            "lines": [{"sku": "B", "quantity": 5}, {"sku": "C", "quantity": 1}, {"sku": "A", "quantity": 13}],
        },
    )

    assert response.status_code == 409
    assert response.json()["lines"] == [
        {"sku": "A", "requested": 13, "available": 12},
        {"sku": "B", "requested": 5, "available": 4},
    ]
    assert database_state() == before


def test_reserve_unknown_or_inactive_sku_gets_409_and_holds_nothing(client, shelves):
    stock("OFF", on_hand=10, is_active=False)
    before = database_state()

    response = reserve(
        client,
        {
            "reference": "order-1",
            "lines": [
                {"sku": "NOPE", "quantity": 1},
                {"sku": "A", "quantity": 1},
                {"sku": "OFF", "quantity": 1},
            ],
        },
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": "unknown_sku",
        "detail": "Unknown or inactive SKU: NOPE, OFF.",
        "message": "Unknown or inactive SKU: NOPE, OFF.",
        "retryable": False,
        "lines": [{"sku": "NOPE"}, {"sku": "OFF"}],
    }
    assert database_state() == before


def test_replay_with_the_same_key_and_body_returns_200_and_holds_once(client, shelves):
    body = {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}
    first = reserve(client, body)
    # The same request with its lines in another order is the same request.
    replay = reserve(client, {**body, "lines": list(reversed(body["lines"])), "ttl_seconds": 900}, key="k2")
    assert replay.status_code == 201  # another key: another reservation

    again = reserve(client, body)
    reordered = reserve(client, {"lines": list(reversed(body["lines"])), "reference": "order-1"})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert reordered.status_code == 200
    assert reordered.json() == first.json()
    assert Reservation.objects.count() == 2
    assert levels_of("A", "B") == {"A": (15, 7), "B": (4, 2)}


def test_replay_returns_the_reservation_as_it_is_now(client, shelves):
    body = {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}]}
    created = reserve(client, body).json()
    post(client, f"{RESERVATIONS_URL}/{created['id']}/commit")

    replay = reserve(client, body)

    assert replay.status_code == 200
    assert replay.json() == {**created, "status": "committed"}
    assert levels_of("A") == {"A": (13, 3)}


@pytest.mark.parametrize(
    "changed",
    [
        {"reference": "order-2", "lines": [{"sku": "A", "quantity": 2}], "ttl_seconds": 900},
        {"reference": "order-1", "lines": [{"sku": "A", "quantity": 3}], "ttl_seconds": 900},
        {"reference": "order-1", "lines": [{"sku": "B", "quantity": 2}], "ttl_seconds": 900},
        {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}], "ttl_seconds": 901},
        {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]},
    ],
    ids=["reference", "quantity", "sku", "ttl", "extra-line"],
)
def test_key_reused_with_a_different_body_gets_422(client, shelves, changed):
    reserve(client, {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}], "ttl_seconds": 900})
    before = database_state()

    response = reserve(client, changed)

    assert response.status_code == 422
    assert response.json() == {
        "error": "idempotency_key_reused",
        "detail": "This Idempotency-Key was already used with a different request body.",
        "message": "This Idempotency-Key was already used with a different request body.",
        "retryable": False,
    }
    assert database_state() == before


def test_a_refused_reservation_is_not_remembered_under_its_key(client, shelves):
    body = {"reference": "order-1", "lines": [{"sku": "B", "quantity": 5}]}
    assert reserve(client, body).status_code == 409
    Stock.objects.filter(variant__sku="B").update(on_hand=5)

    response = reserve(client, body)

    assert response.status_code == 201
    assert levels_of("B") == {"B": (5, 5)}


# --- get ---------------------------------------------------------------------------------------


def test_get_reservation(client, shelves):
    created = reserve(client, {"reference": "order-1", "lines": [{"sku": "A", "quantity": 1}]}).json()

    response = client.get(reverse("inventory:reservation-detail", args=[created["id"]]), headers=AUTH)
    upper = client.get(f"{RESERVATIONS_URL}/{created['id'].upper()}", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == created
    assert upper.json() == created


@pytest.mark.parametrize("reservation_id", [str(uuid.uuid4()), "not-a-uuid", "1234", "%20"])
def test_unknown_or_malformed_reservation_id_gets_404(client, shelves, reservation_id):
    before = database_state()

    responses = [
        client.get(f"{RESERVATIONS_URL}/{reservation_id}", headers=AUTH),
        post(client, f"{RESERVATIONS_URL}/{reservation_id}/commit"),
        post(client, f"{RESERVATIONS_URL}/{reservation_id}/release"),
    ]

    for response in responses:
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": "No reservation with this id.",
            "message": "No reservation with this id.",
            "retryable": False,
        }
    assert database_state() == before


def test_unknown_api_path_gets_json_404(client):
    for url in ["/inventory/v1/nope", "/inventory/v1/levels/", "/inventory/v1/reservations/x/y/z"]:
        response = client.get(url, headers=AUTH)
        assert response.status_code == 404, url
        assert response.json() == {
            "error": "not_found",
            "detail": "No such endpoint.",
            "message": "No such endpoint.",
            "retryable": False,
        }, url


# --- commit ------------------------------------------------------------------------------------


@pytest.fixture
def held(client, shelves) -> dict:
    """A held reservation of A×2 and B×3 (A then 15 on hand, 5 allocated; B 4 and 3)."""
    response = reserve(
        client,
        {"reference": "order-1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 3}]},
    )
    assert response.status_code == 201
    return response.json()


def test_commit_takes_held_units_out_of_stock(client, held):
    response = post(client, reverse("inventory:reservation-commit", args=[held["id"]]))

    assert response.status_code == 200
    assert response.json() == {**held, "status": "committed"}
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}
    assert Reservation.objects.get().status == "committed"


def test_commit_twice_changes_stock_once(client, held):
    url = f"{RESERVATIONS_URL}/{held['id']}/commit"
    post(client, url)

    response = post(client, url)

    assert response.status_code == 200
    assert response.json() == {**held, "status": "committed"}
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}


def test_commit_of_a_held_reservation_past_its_time_but_not_yet_expired(client, held):
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")

    assert response.status_code == 200
    assert response.json()["status"] == "committed"
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}


# --- release -----------------------------------------------------------------------------------


def test_release_gives_units_back(client, held):
    response = post(client, reverse("inventory:reservation-release", args=[held["id"]]))

    assert response.status_code == 200
    assert response.json() == {**held, "status": "released"}
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}


def test_release_twice_gives_back_once(client, held):
    url = f"{RESERVATIONS_URL}/{held['id']}/release"
    post(client, url)

    response = post(client, url)

    assert response.status_code == 200
    assert response.json() == {**held, "status": "released"}
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}


def test_release_after_commit_gets_409_and_changes_nothing(client, held):
    post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")
    before = database_state()

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/release")

    assert response.status_code == 409
    assert response.json() == {
        "error": "already_committed",
        "detail": "The reservation is already committed; its stock cannot be released.",
        "message": "The reservation is already committed; its stock cannot be released.",
        "retryable": False,
    }
    assert database_state() == before


def test_commit_of_a_released_reservation_takes_stock_again(client, held):
    post(client, f"{RESERVATIONS_URL}/{held['id']}/release")

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")

    assert response.status_code == 200
    assert response.json()["status"] == "committed"
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}


# --- expiry ------------------------------------------------------------------------------------


def test_expire_gives_units_back_once(client, held):
    expires_at = Reservation.objects.get().expires_at

    assert inventory.reservations_expire(now=expires_at - timedelta(seconds=1)) == 0
    assert levels_of("A", "B") == {"A": (15, 5), "B": (4, 3)}

    assert inventory.reservations_expire(now=expires_at) == 1
    assert inventory.reservations_expire(now=expires_at + timedelta(hours=1)) == 0

    assert Reservation.objects.get().status == "expired"
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}
    detail = client.get(f"{RESERVATIONS_URL}/{held['id']}", headers=AUTH)
    assert detail.json() == {**held, "status": "expired"}


def test_expire_leaves_committed_and_released_reservations_alone(client, shelves):
    ids = []
    for key in ["k1", "k2", "k3"]:
        body = {"reference": key, "lines": [{"sku": "A", "quantity": 1}], "ttl_seconds": 1}
        ids.append(reserve(client, body, key=key).json()["id"])
    post(client, f"{RESERVATIONS_URL}/{ids[0]}/commit")
    post(client, f"{RESERVATIONS_URL}/{ids[1]}/release")

    assert inventory.reservations_expire(now=timezone.now() + timedelta(seconds=2)) == 1

    statuses = dict(Reservation.objects.values_list("reference", "status"))
    assert statuses == {"k1": "committed", "k2": "released", "k3": "expired"}
    assert levels_of("A") == {"A": (14, 3)}


def test_expire_in_batches(client, shelves, monkeypatch):
    monkeypatch.setattr(inventory, "EXPIRE_BATCH_SIZE", 2)
    for n in range(5):
        reserve(client, {"reference": f"r{n}", "lines": [{"sku": "A", "quantity": 1}]}, key=f"k{n}")

    assert inventory.reservations_expire(now=timezone.now() + timedelta(days=1)) == 5

    assert levels_of("A") == {"A": (15, 3)}


def test_commit_after_expiry_takes_stock_again_when_it_remains(client, held):
    assert inventory.reservations_expire(now=timezone.now() + timedelta(hours=1)) == 1
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")

    assert response.status_code == 200
    assert response.json() == {**held, "status": "committed"}
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}

    again = post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")
    assert again.status_code == 200
    assert levels_of("A", "B") == {"A": (13, 3), "B": (1, 0)}


def test_commit_after_expiry_gets_409_when_the_stock_is_gone(client, held):
    assert inventory.reservations_expire(now=timezone.now() + timedelta(hours=1)) == 1
    # Someone else took B meanwhile: 2 of 4 left, and the expired reservation wants 3.
    other = reserve(client, {"reference": "order-2", "lines": [{"sku": "B", "quantity": 2}]}, key="k2")
    assert other.status_code == 201
    before = database_state()

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/commit")

    assert response.status_code == 409
    assert response.json() == {
        "error": "insufficient_stock",
        "detail": "Not enough stock for B (3 asked, 2 available).",
        "message": "Not enough stock for B (3 asked, 2 available).",
        "retryable": False,
        "lines": [{"sku": "B", "requested": 3, "available": 2}],
    }
    assert database_state() == before
    assert Reservation.objects.get(pk=held["id"]).status == "expired"


def test_short_lines_are_reported_by_sku_whatever_the_locking_order(client):
    stock("Z", on_hand=3)  # created first: the lower variant id, locked first
    stock("M", on_hand=3)
    body = {"reference": "order-1", "lines": [{"sku": "Z", "quantity": 2}, {"sku": "M", "quantity": 2}]}
    first = reserve(client, body).json()
    inventory.reservations_expire(now=timezone.now() + timedelta(hours=1))
    other = {"reference": "order-2", "lines": [{"sku": "M", "quantity": 3}, {"sku": "Z", "quantity": 3}]}
    assert reserve(client, other, key="k2").status_code == 201
    before = database_state()

    late_commit = post(client, f"{RESERVATIONS_URL}/{first['id']}/commit")
    new_reservation = reserve(client, body, key="k3")

    expected_lines = [
        {"sku": "M", "requested": 2, "available": 0},
        {"sku": "Z", "requested": 2, "available": 0},
    ]
    assert late_commit.status_code == 409
    assert late_commit.json()["lines"] == expected_lines
    assert new_reservation.status_code == 409
    assert new_reservation.json()["lines"] == expected_lines
    assert database_state() == before


def test_release_of_an_expired_reservation_is_a_no_op(client, held):
    inventory.reservations_expire(now=timezone.now() + timedelta(hours=1))
    before = database_state()

    response = post(client, f"{RESERVATIONS_URL}/{held['id']}/release")

    assert response.status_code == 200
    assert response.json() == {**held, "status": "expired"}
    assert database_state() == before


def test_management_command_expires_once(client, held):
    out = io.StringIO()
    call_command("release_expired_reservations", stdout=out)
    assert out.getvalue() == "Expired 0 reservations.\n"

    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("release_expired_reservations", stdout=out)

    assert out.getvalue() == "Expired 1 reservation.\n"
    assert Reservation.objects.get().status == "expired"
    assert levels_of("A", "B") == {"A": (15, 3), "B": (4, 0)}


# --- bad input ---------------------------------------------------------------------------------

GOOD_LINE = {"sku": "A", "quantity": 1}


def body_with(**fields) -> str:
    return json.dumps({"reference": "order-1", "lines": [GOOD_LINE], **fields})


def body_without(field: str) -> str:
    body = {"reference": "order-1", "lines": [GOOD_LINE], "ttl_seconds": 60}
    del body[field]
    return json.dumps(body)


BAD_BODIES = {
    "not-json": ("{", "The body is not valid JSON."),
    "empty": ("", "The body is not valid JSON."),
    "not-utf8": (b'{"reference": "\xff"}', "The body is not valid JSON."),
    "deep-nesting": ("[" * 20000 + "]" * 20000, "The body is not valid JSON."),
    "array": ("[]", "The body must be a JSON object."),
    "null": ("null", "The body must be a JSON object."),
    "unknown-field": (body_with(ttl=60), "Unexpected field in the body: ttl."),
    "missing-reference": (
        body_without("reference"),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "empty-reference": (
        body_with(reference=""),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "blank-reference": (
        body_with(reference="  "),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "long-reference": (
        body_with(reference="r" * 101),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "nul-reference": (
        body_with(reference="order\x00-1"),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "number-reference": (
        body_with(reference=1042),
        "reference must be a string of 1 to 100 characters, without NUL.",
    ),
    "missing-lines": (body_without("lines"), "lines must be a list of 1 to 100 lines."),
    "no-lines": (body_with(lines=[]), "lines must be a list of 1 to 100 lines."),
    "lines-object": (body_with(lines={"sku": "A", "quantity": 1}), "lines must be a list of 1 to 100 lines."),
    "101-lines": (
        body_with(lines=[{"sku": f"S{n}", "quantity": 1} for n in range(101)]),
        "lines must be a list of 1 to 100 lines.",
    ),
    "line-not-object": (body_with(lines=["A"]), "lines[0] must be an object with sku and quantity."),
    "line-extra-field": (
        body_with(lines=[{"sku": "A", "quantity": 1, "price": 5}]),
        "Unexpected field in lines[0]: price.",
    ),
    "missing-sku": (
        body_with(lines=[{"quantity": 1}]),
        "lines[0].sku must be a string of 1 to 64 characters, without NUL.",
    ),
    "empty-sku": (
        body_with(lines=[{"sku": "", "quantity": 1}]),
        "lines[0].sku must be a string of 1 to 64 characters, without NUL.",
    ),
    "number-sku": (
        body_with(lines=[{"sku": 7, "quantity": 1}]),
        "lines[0].sku must be a string of 1 to 64 characters, without NUL.",
    ),
    "missing-quantity": (
        body_with(lines=[{"sku": "A"}]),
        "lines[0].quantity must be an integer from 1 to 1000.",
    ),
    **{
        f"quantity-{name}": (
            body_with(lines=[GOOD_LINE, {"sku": "B", "quantity": value}]),
            "lines[1].quantity must be an integer from 1 to 1000.",
        )
        for name, value in [
            ("0", 0),
            ("-1", -1),
            ("1001", 1001),
            ("string", "2"),
            ("float", 2.0),
            ("bool", True),
            ("null", None),
        ]
    },
    "duplicate-sku": (
        body_with(lines=[GOOD_LINE, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}]),
        "lines[2].sku 'A' appears more than once; give each SKU once.",
    ),
    **{
        f"ttl-{name}": (body_with(ttl_seconds=value), "ttl_seconds must be an integer from 1 to 86400.")
        for name, value in [
            ("0", 0),
            ("86401", 86401),
            ("string", "900"),
            ("float", 1.5),
            ("null", None),
            ("bool", True),
        ]
    },
}


@pytest.mark.parametrize(("body", "detail"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_reservation_bodies_get_400_and_change_nothing(client, shelves, body, detail):
    before = database_state()

    response = reserve(client, body)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": detail,
        "message": detail,
        "retryable": False,
    }
    assert database_state() == before


def test_limits_themselves_are_accepted(client, shelves):
    for n in range(99):
        stock(f"S{n}", on_hand=1000)
    stock("BIG", on_hand=1000)
    lines = [{"sku": f"S{n}", "quantity": 1} for n in range(99)] + [{"sku": "BIG", "quantity": 1000}]

    response = reserve(client, {"reference": "r" * 100, "lines": lines, "ttl_seconds": 86400}, key="k" * 200)

    assert response.status_code == 201
    assert len(response.json()["lines"]) == 100
    assert levels_of("BIG") == {"BIG": (1000, 1000)}


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Idempotency-Key": ""}, "The Idempotency-Key header is required."),
        ({"Idempotency-Key": "   "}, "The Idempotency-Key header is required."),
        ({"Idempotency-Key": "k" * 201}, "The Idempotency-Key header must be at most 200 characters."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_bad_idempotency_keys_get_400(client, shelves, headers, detail):
    before = database_state()

    response = reserve(client, {"reference": "order-1", "lines": [GOOD_LINE]}, headers=headers)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": detail,
        "message": detail,
        "retryable": False,
    }
    assert database_state() == before


def test_missing_idempotency_key_gets_400(client, shelves):
    response = client.post(
        RESERVATIONS_URL,
        data=json.dumps({"reference": "order-1", "lines": [GOOD_LINE]}),
        content_type="application/json",
        headers=AUTH,
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": "The Idempotency-Key header is required.",
        "message": "The Idempotency-Key header is required.",
        "retryable": False,
    }
    assert Reservation.objects.count() == 0


def test_body_over_64_kib_gets_413_and_up_to_64_kib_is_read(client, shelves):
    body = json.dumps({"reference": "order-1", "lines": [GOOD_LINE]})
    padded = body + " " * (64 * 1024 - len(body))
    assert len(padded.encode()) == 65536
    before = database_state()

    too_big = reserve(client, padded + " ")

    assert too_big.status_code == 413
    assert too_big.json() == {
        "error": "body_too_large",
        "detail": "The request body must be at most 65536 bytes.",
        "message": "The request body must be at most 65536 bytes.",
        "retryable": False,
    }
    assert database_state() == before
    assert reserve(client, padded).status_code == 201


def test_declared_content_length_over_the_limit_gets_413_unread(client, shelves):
    response = client.generic(
        "POST",
        RESERVATIONS_URL,
        data=b"{}",
        headers={**AUTH, "Idempotency-Key": "k1"},
        CONTENT_LENGTH="10000000",
    )

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("get", RESERVATIONS_URL, "POST"),
        ("put", RESERVATIONS_URL, "POST"),
        ("post", LEVELS_URL, "GET"),
        ("delete", f"{RESERVATIONS_URL}/{uuid.UUID(int=1)}", "GET"),
        ("get", f"{RESERVATIONS_URL}/{uuid.UUID(int=1)}/commit", "POST"),
        ("patch", f"{RESERVATIONS_URL}/{uuid.UUID(int=1)}/release", "POST"),
    ],
)
def test_wrong_method_gets_405(client, method, url, allow):
    response = getattr(client, method)(url, headers=AUTH)

    assert response.status_code == 405
    assert response["Allow"] == allow
    assert response.json() == {
        "error": "method_not_allowed",
        "detail": f"Use {allow} on this URL.",
        "message": f"Use {allow} on this URL.",
        "retryable": False,
    }


# --- admin -------------------------------------------------------------------------------------


def test_admin_shows_reservations_read_only(client, held):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    listing = client.get("/admin/inventory/reservation/?status__exact=held&q=order-1")
    change = client.get(f"/admin/inventory/reservation/{held['id']}/change/")
    by_id = client.get(f"/admin/inventory/reservation/?q={held['id']}")
    add = client.get("/admin/inventory/reservation/add/")
    delete = client.get(f"/admin/inventory/reservation/{held['id']}/delete/")

    assert listing.status_code == 200
    assert "order-1" in listing.content.decode()
    assert by_id.status_code == 200
    assert "order-1" in by_id.content.decode()
    assert change.status_code == 200
    assert "Reservation lines" in change.content.decode()
    assert "order-1" in change.content.decode()
    assert 'name="_save"' not in change.content.decode()
    assert add.status_code == 403
    assert delete.status_code == 403


# --- the written contract ----------------------------------------------------------------------


def test_openapi_document_names_these_urls_and_error_codes():
    document = yaml.safe_load((settings.BASE_DIR / "inventory" / "openapi.yaml").read_text())
    some_id = uuid.UUID(int=7)

    assert document["openapi"] == "3.1.0"
    bearer = document["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearerAuth": []}]
    assert {
        "/inventory/v1" + path.replace("{id}", str(some_id)): sorted(operations.keys() - {"parameters"})
        for path, operations in document["paths"].items()
    } == {
        reverse("inventory:levels"): ["get"],
        reverse("inventory:reservation-list"): ["post"],
        reverse("inventory:reservation-detail", args=[some_id]): ["get"],
        reverse("inventory:reservation-commit", args=[some_id]): ["post"],
        reverse("inventory:reservation-release", args=[some_id]): ["post"],
        reverse("inventory:reservation-return", args=[some_id]): ["post"],
    }
    assert set(document["components"]["schemas"]["Error"]["properties"]["error"]["enum"]) == {
        "invalid_request",
        "unauthorized",
        "not_found",
        "method_not_allowed",
        "body_too_large",
        "unknown_sku",
        "insufficient_stock",
        "idempotency_key_reused",
        "already_committed",
        "not_committed",
    }


# --- return (committed stock back on hand) ---------------------------------------------------


def test_return_puts_committed_stock_back_once(client, shelves):
    created = reserve(client, {"reference": "order-9", "lines": [{"sku": "B", "quantity": 3}]}).json()
    post(client, f"{RESERVATIONS_URL}/{created['id']}/commit")
    assert levels_of("B") == {"B": (1, 0)}

    first = post(client, f"{RESERVATIONS_URL}/{created['id']}/return")
    second = post(client, f"{RESERVATIONS_URL}/{created['id']}/return")

    assert (first.status_code, first.json()["status"]) == (200, "returned")
    assert (second.status_code, second.json()["status"]) == (200, "returned")
    assert levels_of("B") == {"B": (4, 0)}


def test_return_of_a_held_reservation_is_refused(client, shelves):
    created = reserve(client, {"reference": "order-9", "lines": [{"sku": "B", "quantity": 1}]}).json()
    before = database_state()

    response = post(client, f"{RESERVATIONS_URL}/{created['id']}/return")

    assert response.status_code == 409 and response.json()["error"] == "not_committed"
    assert database_state() == before


# --- stock adjustments (the staff's stock page) ------------------------------------------------


def test_stock_adjust_records_who_why_before_and_after(shelves):
    from inventory.models import StockAdjustment
    from inventory.stock import stock_adjust
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    a, _b = shelves
    adjustment = stock_adjust(
        variant_id=a.variant_id, on_hand=20, reason=" Delivery from supplier ", user_id=user.pk
    )

    assert (adjustment.on_hand_before, adjustment.on_hand_after, adjustment.change) == (15, 20, 5)
    assert (adjustment.reason, adjustment.user_id) == ("Delivery from supplier", user.pk)
    assert levels_of("A") == {"A": (20, 3)}
    assert StockAdjustment.objects.count() == 1


@pytest.mark.parametrize(
    ("on_hand", "reason", "message"),
    [
        (2, "Count", "3 units are held by orders awaiting payment; on hand cannot go below that."),
        (-1, "Count", "On hand must be a whole number from 0 to 10,000,000."),
        (10, "   ", "Give a reason for the change."),
    ],
)
def test_stock_adjust_refusals_change_nothing(shelves, on_hand, reason, message):
    from inventory.models import StockAdjustment
    from inventory.stock import stock_adjust
    from shop.exceptions import InvalidInput

    a, _b = shelves
    with pytest.raises(InvalidInput, match=message):
        stock_adjust(variant_id=a.variant_id, on_hand=on_hand, reason=reason, user_id=None)
    assert levels_of("A") == {"A": (15, 3)}
    assert not StockAdjustment.objects.exists()


def test_the_api_answers_plain_http_while_pages_redirect_to_https(client, settings):
    """The checkout calls the API in its own process over http on loopback (the default
    INVENTORY_API_URL); an https redirect would turn every reservation away."""
    settings.SECURE_SSL_REDIRECT = True
    stock("A", on_hand=2)

    assert client.get("/cart/").status_code == 301
    response = reserve(client, {"reference": "order-1", "lines": [{"sku": "A", "quantity": 1}]})

    assert response.status_code == 201
    assert levels_of("A") == {"A": (2, 1)}
