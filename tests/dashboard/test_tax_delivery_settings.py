"""Staff set tax rates and delivery in the dashboard and the admin; every bad input is refused
on the page (400) with its message and nothing written; what they set is what shoppers get."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from taxes.models import TaxClass, TaxRate
from tests.factories import (
    ProductFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    TaxClassFactory,
    TaxRateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/dashboard/tax-delivery/"


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True, email="sam@example.com"))
    return client


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def page(response) -> str:
    return response.content.decode()


def everything() -> tuple:
    """Return every tax and delivery row, to show that a refused input wrote nothing."""
    return (
        list(TaxClass.objects.order_by("pk").values_list()),
        list(TaxRate.objects.order_by("pk").values_list()),
        list(ShippingZone.objects.order_by("pk").values_list()),
        list(ShippingMethod.objects.order_by("pk").values_list()),
        list(ShippingBand.objects.order_by("pk").values_list()),
    )


def method_post(**fields) -> dict:
    """A method form as the page sends it, with its band rows (lower, upper, price)."""
    bands = fields.pop("bands", [("0", "", "4.95")])
    data = {"code": "standard", "name": "Standard", "description": "", "estimate": "", "basis": "value"}
    data |= {"free_over": "", "is_active": "on", "position": "0", **fields}
    data |= {"bands-TOTAL_FORMS": str(len(bands)), "bands-INITIAL_FORMS": "0"}
    for index, row in enumerate(bands):
        data |= dict(zip([f"bands-{index}-{name}" for name in ("lower", "upper", "price")], row, strict=True))
    return data


def add_zone(client, **fields):
    data = {"name": "Ireland", "countries": "IE", "is_active": "on", "position": "2", **fields}
    return client.post(f"{BASE}zones/add/", data)


# Who may open the pages ------------------------------------------------------------------------


def pages() -> dict[str, str]:
    """Return each page and its heading."""
    rate = TaxRateFactory(country="GB", rate=20)
    method = ShippingMethodFactory(price=495)
    zone = f"{BASE}zones/{method.zone_id}/"
    return {
        BASE: "<h1>Tax &amp; delivery</h1>",
        f"{BASE}rates/add/": "<h1>Add a tax rate</h1>",
        f"{BASE}rates/{rate.pk}/": "<h1>Standard rate in United Kingdom</h1>",
        f"{BASE}classes/add/": "<h1>Add a tax class</h1>",
        f"{BASE}zones/add/": "<h1>Add a delivery zone</h1>",
        zone: "<h1>Zone United Kingdom</h1>",
        f"{zone}methods/add/": "<h1>Add a delivery method to zone United Kingdom</h1>",
        f"{BASE}methods/{method.pk}/": "<h1>Standard in zone United Kingdom</h1>",
    }


def test_the_pages_open_for_staff(staff):
    for url, heading in pages().items():
        response = staff.get(url)
        assert response.status_code == 200, url
        assert heading in page(response), url


def test_customers_are_refused_and_visitors_sent_to_sign_in(client):
    all_urls = list(pages())
    rate, method = TaxRate.objects.get(), ShippingMethod.objects.get()
    writes = [
        f"{BASE}rates/{rate.pk}/delete/",
        f"{BASE}zones/{method.zone_id}/active/",
        f"{BASE}methods/{method.pk}/active/",
    ]
    before = everything()

    for url in all_urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/account/login/"), url
    client.force_login(UserFactory())
    for url in all_urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "This part of the shop is for staff." in page(response)
    for url in [*all_urls[1:], *writes]:
        assert client.post(url, {"is_active": "0", "rate": "5", "country": "FR"}).status_code == 403, url
    assert everything() == before


def test_unknown_or_absurd_ids_are_404(staff):
    for url in [f"{BASE}rates/999/", f"{BASE}zones/999/", f"{BASE}methods/99999999999999999999999/"]:
        response = staff.get(url)
        assert response.status_code == 404, url
        assert "We couldn’t find that page" in page(response), url
    assert staff.post(f"{BASE}rates/999/delete/").status_code == 404
    assert staff.post(f"{BASE}zones/999/active/", {"is_active": "1"}).status_code == 404


# The list page ---------------------------------------------------------------------------------


def test_the_list_shows_rates_by_country_and_class_zones_methods_and_warnings(staff, shipping):
    TaxRateFactory(tax_class=TaxClassFactory(code="reduced"), country="GB", rate="5.5")
    ShippingZoneFactory(name="Ireland", countries=["IE"])

    response = staff.get(BASE)

    body = page(response)
    assert response.status_code == 200
    assert "Zone Ireland offers no delivery method: shoppers there cannot check out." in body
    assert "United Kingdom <code>GB</code>" in body and "Germany <code>DE</code>" in body
    assert ">20 %</a>" in body and ">5.5 %</a>" in body and ">19 %</a>" in body
    assert "Reduced rate" in body
    assert "France, Germany" in body
    assert "£0.00 up: £4.95" in body and "£75.00" in body
    assert "Zone United Kingdom offers no" not in body


def test_the_list_page_reads_the_same_number_of_times_however_many_zones(staff, shipping):
    staff.get(BASE)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(BASE).status_code == 200
    for index in range(3):
        zone = ShippingZoneFactory(name=f"Zone {index}", countries=[["IE", "MT", "CY"][index]])
        ShippingMethodFactory(zone=zone, price=100 + index)
        TaxRateFactory(country=zone.countries[0], rate=index)
    with CaptureQueriesContext(connection) as many:
        response = staff.get(BASE)

    assert response.status_code == 200 and "Zone 2" in page(response)
    assert len(many) == len(few)


# Tax rates and classes -------------------------------------------------------------------------


def test_staff_add_edit_and_delete_a_rate(staff):
    standard, reduced = TaxClassFactory(code="standard"), TaxClassFactory(code="reduced")

    added = staff.post(f"{BASE}rates/add/", {"tax_class": standard.pk, "country": "ie", "rate": "23"})
    rate = TaxRate.objects.get()
    edited = staff.post(
        f"{BASE}rates/{rate.pk}/", {"tax_class": standard.pk, "country": "IE", "rate": "13.5"}
    )
    shown = staff.get(BASE)
    deleted = staff.post(f"{BASE}rates/{rate.pk}/delete/", follow=True)
    offered = staff.get(f"{BASE}rates/add/", {"tax_class": reduced.pk, "country": "IE"})

    assert (added.status_code, added["Location"]) == (302, f"{BASE}#tax")
    assert edited.status_code == 302
    assert ">13.5 %</a>" in page(shown) and "Ireland <code>IE</code>" in page(shown)
    assert deleted.status_code == 200
    assert "The rate for Standard rate in Ireland is deleted: no tax is charged on it there." in page(deleted)
    assert not TaxRate.objects.exists()
    # A cell without a rate offers to add one, the class and country chosen.
    assert f"rates/add/?tax_class={reduced.pk}&amp;country=IE" in page(shown)
    assert offered.status_code == 200 and '<option value="IE" selected>Ireland</option>' in page(offered)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": "120"}, "Enter a rate from 0 to 100 %"),
        ({"rate": "twenty"}, "Enter a rate from 0 to 100 %"),
        ({"country": "QQ"}, "“QQ” is not a country code we know (use two letters, e.g. GB)."),
        ({"country": "DE"}, "Standard rate already has a rate in Germany: change that one instead."),
        ({"tax_class": "999"}, "Choose a tax class."),
        ({"tax_class": "x\x00"}, "Null characters are not allowed."),
    ],
)
def test_a_bad_rate_is_refused_on_the_page_with_nothing_written(staff, fields, message):
    standard = TaxClassFactory(code="standard")
    TaxRateFactory(tax_class=standard, country="DE", rate=19)
    before = everything()

    response = staff.post(
        f"{BASE}rates/add/", {"tax_class": standard.pk, "country": "FR", "rate": "20", **fields}
    )

    assert response.status_code == 400
    assert "Nothing was saved" in page(response)
    assert message in page(response)
    assert everything() == before


def test_staff_add_a_tax_class_and_a_taken_code_is_refused(staff):
    TaxClassFactory(code="standard")

    added = staff.post(
        f"{BASE}classes/add/", {"code": "books", "name": "Books", "position": "5"}, follow=True
    )
    before = everything()
    taken = staff.post(f"{BASE}classes/add/", {"code": "books", "name": "More books", "position": "6"})
    blank = staff.post(f"{BASE}classes/add/", {"code": "", "name": "", "position": "6"})

    assert added.status_code == 200 and "Tax class Books added" in page(added)
    assert "Books <code>books</code>" in page(added)
    assert taken.status_code == 400 and "There is already a tax class with that code." in page(taken)
    assert blank.status_code == 400 and "Give the class a code, e.g. books." in page(blank)
    assert everything() == before


# Zones and methods -----------------------------------------------------------------------------


def test_a_zone_overlapping_an_active_zone_or_without_countries_is_refused(staff, shipping):
    before = everything()

    overlap = add_zone(staff, name="DACH", countries="AT, DE")
    empty = add_zone(staff, name="Nowhere", countries="")
    unknown = add_zone(staff, name="Atlantis", countries="AA")

    assert overlap.status_code == 400 and "Germany is already in the zone Europe." in page(overlap)
    assert empty.status_code == 400
    assert "Give at least one country (its two-letter code, e.g. GB)." in page(empty)
    assert unknown.status_code == 400 and "“AA” is not a country code we know" in page(unknown)
    assert everything() == before


def test_switching_a_zone_on_into_an_overlap_is_refused(staff, shipping):
    dormant = ShippingZoneFactory(name="Germany only", countries=["DE"], is_active=False)
    before = everything()

    response = staff.post(f"{BASE}zones/{dormant.pk}/active/", {"is_active": "1"})
    nonsense = staff.post(f"{BASE}zones/{dormant.pk}/active/", {"is_active": "maybe"})

    assert response.status_code == 400
    assert "The zone was not switched on." in page(response)
    assert "Germany is already in the zone Europe." in page(response)
    assert nonsense.status_code == 400
    assert "Say whether to switch the zone on (1) or off (0)." in page(nonsense)
    assert everything() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"bands": [("0", "40", "4.95"), ("50", "", "2.95")]},
            "The band from £50.00 leaves a gap from £40.00 to £50.00: start it at £40.00, "
            "where the band before it ends.",
        ),
        ({"bands": [("0", "", "")]}, "Give the method at least one price band."),  # the row as shown
        ({"bands": [("0", "", "5000")]}, "A delivery price of that size is not possible: at most £1,000.00."),
        ({"free_over": "0"}, "Free delivery from 0 would make this method always free"),
        ({"code": "express"}, "The zone United Kingdom already has a method with the code “express”."),
        ({"basis": "volume"}, "Select a valid choice."),
    ],
)
def test_a_bad_method_or_band_list_is_refused_with_nothing_written(staff, shipping, fields, message):
    before = everything()

    response = staff.post(
        f"{BASE}zones/{shipping.zone_id}/methods/add/", method_post(**{"code": "next-day", **fields})
    )

    assert response.status_code == 400
    assert "Nothing was saved" in page(response)
    assert message in page(response)
    assert everything() == before


def test_staff_edit_a_method_and_its_bands_in_pounds_and_a_bad_edit_changes_nothing(staff, shipping):
    before = everything()
    gappy = [("0", "30", "3.95"), ("35", "", "0")]
    refused = staff.post(f"{BASE}methods/{shipping.pk}/", method_post(name="Renamed", bands=gappy))
    assert refused.status_code == 400 and "leaves a gap from £30.00 to £35.00" in page(refused)
    assert everything() == before

    response = staff.post(
        f"{BASE}methods/{shipping.pk}/",
        method_post(
            name="Standard delivery",
            estimate="2–4 working days",
            free_over="60",
            bands=[("0", "20", "5.95"), ("20", "", "3.95"), ("", "", "")],
        ),
        follow=True,
    )

    shipping.refresh_from_db()
    assert response.status_code == 200 and "Standard delivery in zone United Kingdom saved." in page(response)
    assert (shipping.name, shipping.free_over) == ("Standard delivery", 6000)
    assert shipping.estimate == "2–4 working days"
    assert list(shipping.bands.values_list("lower", "upper", "price")) == [(0, 2000, 595), (2000, None, 395)]
    assert "£0.00 to £20.00: £5.95" in page(response)


# What shoppers then get ------------------------------------------------------------------------


@pytest.fixture
def cart(jumper):
    """A shopper's cart with one £65 jumper (a client of its own beside the staff member's)."""
    shopper = Client()
    assert shopper.post("/cart/add/", {"variant": jumper.pk, "quantity": 1}).status_code == 302
    return shopper


def test_a_zone_and_method_staff_add_are_offered_at_checkout(staff, shipping, cart):
    TaxRateFactory(country="IE", rate=23)
    before = cart.get("/checkout/totals/", {"country": "IE", "shipping_method": "courier"})

    zone = add_zone(staff)
    zone_id = ShippingZone.objects.get(name="Ireland").pk
    warned = staff.get(BASE)
    method = staff.post(
        f"{BASE}zones/{zone_id}/methods/add/",
        method_post(
            code="courier", name="Irish courier", estimate="3–5 working days", bands=[("0", "", "12.50")]
        ),
    )
    after = cart.get("/checkout/totals/", {"country": "IE", "shipping_method": "courier"})

    assert "Sorry, we do not deliver to Ireland" in before.json()["methods"]
    assert (zone.status_code, zone["Location"]) == (302, f"{BASE}zones/{zone_id}/")
    assert "Zone Ireland offers no delivery method: shoppers there cannot check out." in page(warned)
    assert method.status_code == 302
    assert after.status_code == 200
    methods = after.json()["methods"]
    assert 'value="courier" checked' in methods
    assert "Irish courier" in methods and "£12.50" in methods and "3–5 working days" in methods
    assert 'data-total="total">£77.50<' in after.json()["summary"]
    assert "Zone Ireland offers no" not in page(staff.get(BASE))


def test_a_method_switched_off_is_no_longer_offered(staff, shipping, cart):
    express = ShippingMethod.objects.get(code="express")

    off = staff.post(f"{BASE}methods/{express.pk}/active/", {"is_active": "0"}, follow=True)
    offered = cart.get("/checkout/totals/", {"country": "GB", "shipping_method": "express"}).json()["methods"]

    assert off.status_code == 200 and "Express in zone United Kingdom is no longer offered." in page(off)
    assert "Express" not in offered and "Standard" in offered


# The Django admin ------------------------------------------------------------------------------


def inline_rows(prefix: str, rows, initial: int = 0) -> dict:
    """Return an admin inline's management form and rows (dicts of field: value)."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data |= {f"{prefix}-{index}-{name}": value for name, value in row.items()}
    return data


def admin_method(method, rows) -> dict:
    data = {"zone": method.zone_id, "code": method.code, "name": method.name, "description": ""}
    data |= {"estimate": "", "basis": "value", "free_over": "75.00", "is_active": "on", "position": "0"}
    return data | inline_rows("bands", rows, initial=sum(1 for row in rows if "id" in row))


def test_the_admin_pages_load(admin_client, shipping):
    standard = TaxClass.objects.get(code="standard")
    pages = {
        "/admin/taxes/taxclass/": "Standard rate",
        f"/admin/taxes/taxclass/{standard.pk}/change/": "GB",
        "/admin/taxes/taxclass/add/": "Add tax class",
        "/admin/shipping/shippingzone/": "DE, FR",
        f"/admin/shipping/shippingzone/{shipping.zone_id}/change/": "Express",
        "/admin/shipping/shippingmethod/": "Express",
        f"/admin/shipping/shippingmethod/{shipping.pk}/change/": "4.95",
        "/admin/shipping/shippingmethod/add/": "Add shipping method",
        f"/admin/catalog/product/{ProductFactory().pk}/change/": "Tax class",
    }
    for url, text in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert text in page(response), url


def test_the_admin_saves_a_valid_band_list_and_refuses_a_gappy_one(admin_client, shipping):
    band = shipping.bands.get()
    url = f"/admin/shipping/shippingmethod/{shipping.pk}/change/"
    gappy = [
        {"id": band.pk, "method": shipping.pk, "lower": "0", "upper": "40", "price": "4.95"},
        {"method": shipping.pk, "lower": "50", "upper": "", "price": "2.95"},
    ]
    before = everything()

    refused = admin_client.post(url, admin_method(shipping, gappy))

    assert refused.status_code == 200
    assert "The band from £50.00 leaves a gap from £40.00 to £50.00" in page(refused)
    assert everything() == before

    valid = [{**gappy[0], "upper": "50"}, gappy[1]]
    saved = admin_client.post(url, admin_method(shipping, valid))

    assert saved.status_code == 302
    assert list(shipping.bands.values_list("lower", "upper", "price")) == [(0, 5000, 495), (5000, None, 295)]


def test_the_admin_refuses_an_overlapping_zone_and_a_rate_over_100(admin_client, shipping):
    standard = TaxClass.objects.get(code="standard")
    before = everything()

    dach = {"name": "DACH", "countries": "AT, DE", "is_active": "on", "position": "0"}
    zone = admin_client.post("/admin/shipping/shippingzone/add/", dach | inline_rows("methods", []))
    rates = TaxRate.objects.filter(tax_class=standard).order_by("pk")
    rows = [
        {"id": rate.pk, "tax_class": standard.pk, "country": rate.country, "rate": str(rate.rate)}
        for rate in rates
    ]
    rows.append({"tax_class": standard.pk, "country": "IT", "rate": "122"})
    tax_class = {"code": "standard", "name": "Standard rate", "position": "0"}
    rate = admin_client.post(
        f"/admin/taxes/taxclass/{standard.pk}/change/", tax_class | inline_rows("rates", rows, len(rates))
    )

    assert zone.status_code == 200 and "Germany is already in the zone Europe." in page(zone)
    assert rate.status_code == 200 and "Enter a rate from 0 to 100 %" in page(rate)
    assert everything() == before
