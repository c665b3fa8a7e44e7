"""What staff may set for tax and delivery: each bad input refused with its message and nothing
written, through the forms the dashboard and the admin share and the services behind them."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from shipping.forms import Band, MethodForm, ZoneForm, band_formset_class, zone_warning
from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from shipping.services import method_bands_replace, method_save, zone_active_set, zone_save
from taxes.forms import TaxRateForm
from taxes.models import TaxRate
from taxes.services import tax_rate_save
from tests.factories import (
    ShippingBandFactory,
    ShippingMethodFactory,
    ShippingZoneFactory,
    TaxClassFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db


# Tax rates -------------------------------------------------------------------------------------


def rate_form(**data) -> TaxRateForm:
    standard = TaxClassFactory(code="standard")
    return TaxRateForm({"tax_class": standard.pk, "country": "DE", "rate": "19", **data})


@pytest.mark.parametrize("rate", ["101", "-1", "100.001", "abc", "NaN", "1e9", "", "5.0005"])
def test_a_rate_outside_0_to_100_is_refused_plainly(rate):
    form = rate_form(rate=rate)

    assert not form.is_valid()
    places = "Give the rate to at most three decimal places, e.g. 5.5."
    assert form.errors["rate"] == [places if rate == "5.0005" else "Enter a rate from 0 to 100 %"]
    assert not TaxRate.objects.exists()


@pytest.mark.parametrize(("typed", "stored"), [("0", "0.000"), ("100", "100.000"), ("5.5", "5.500")])
def test_a_rate_from_0_to_100_is_kept_as_typed(typed, stored):
    form = rate_form(rate=typed)

    assert form.is_valid(), form.errors
    saved = tax_rate_save(rate=form.instance)
    saved.refresh_from_db()
    assert (saved.country, str(saved.rate)) == ("DE", stored)


def test_a_second_rate_for_the_same_class_and_country_is_refused_but_another_class_may_have_one():
    TaxRateFactory(country="DE", rate=19)
    taken = ["Standard rate already has a rate in Germany: change that one instead."]

    form = rate_form(rate="7")
    reduced = rate_form(tax_class=TaxClassFactory(code="reduced").pk, rate="7")
    with pytest.raises(ValidationError) as past_the_form:  # another member of staff was quicker
        tax_rate_save(rate=TaxRate(tax_class=TaxClassFactory(code="standard"), country="DE", rate=7))

    assert not form.is_valid()
    assert form.errors["country"] == taken
    assert past_the_form.value.message_dict == {"country": taken}
    assert reduced.is_valid(), reduced.errors
    assert list(TaxRate.objects.values_list("country", "rate")) == [("DE", 19)]


def test_an_unknown_country_code_is_refused_and_a_lower_case_one_understood():
    unknown = rate_form(country="XX")
    lower_case = rate_form(country="de")

    assert not unknown.is_valid()
    assert unknown.errors["country"] == ["“XX” is not a country code we know (use two letters, e.g. GB)."]
    assert lower_case.is_valid(), lower_case.errors
    assert lower_case.cleaned_data["country"] == "DE"


# Zones -----------------------------------------------------------------------------------------


def zone_form(instance=None, **data) -> ZoneForm:
    return ZoneForm(
        {"name": "Ireland", "countries": "IE", "is_active": "on", "position": "2", **data}, instance=instance
    )


def test_a_zone_sharing_a_country_with_another_active_zone_is_refused():
    ShippingZoneFactory(name="Europe", countries=["DE", "FR"])

    form = zone_form(name="Central Europe", countries="AT, DE, FR")

    assert not form.is_valid()
    assert form.errors["countries"] == [
        "France is already in the zone Europe.",
        "Germany is already in the zone Europe.",
    ]
    assert ShippingZone.objects.count() == 1


def test_a_zone_may_share_countries_with_an_inactive_zone_and_may_itself_be_saved_inactive():
    ShippingZoneFactory(name="Old Europe", countries=["DE"], is_active=False)
    ShippingZoneFactory(name="Europe", countries=["FR"])

    beside_inactive = zone_form(countries="DE")
    inactive = zone_form(countries="FR", is_active="")

    assert beside_inactive.is_valid(), beside_inactive.errors
    assert inactive.is_valid(), inactive.errors


def test_editing_a_zone_does_not_count_its_own_countries_against_it():
    zone = ShippingZoneFactory(name="Europe", countries=["DE", "FR"])

    form = zone_form(instance=zone, name="Europe", countries="de, fr;  IT")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["countries"] == ["DE", "FR", "IT"]


@pytest.mark.parametrize(
    ("countries", "message"),
    [
        ("", "Give at least one country (its two-letter code, e.g. GB)."),
        (" , ", "Give at least one country (its two-letter code, e.g. GB)."),
        ("DE, ZZ", "“ZZ” is not a country code we know (use two letters, e.g. GB)."),
        ("Germany", "“GERMANY” is not a country code we know (use two letters, e.g. GB)."),
    ],
)
def test_a_zone_without_known_countries_is_refused(countries, message):
    form = zone_form(countries=countries)

    assert not form.is_valid()
    assert form.errors["countries"] == [message]
    assert not ShippingZone.objects.exists()


def test_the_service_refuses_an_overlapping_zone_and_switching_one_on_into_overlap():
    ShippingZoneFactory(name="Europe", countries=["DE", "FR"])
    dormant = ShippingZoneFactory(name="Germany only", countries=["DE"], is_active=False)

    with pytest.raises(ValidationError) as saving:
        zone_save(zone=ShippingZone(name="DACH", countries=["AT", "DE"], is_active=True))
    with pytest.raises(ValidationError) as switching:
        zone_active_set(zone_id=dormant.pk, is_active=True)

    assert saving.value.message_dict == {"countries": ["Germany is already in the zone Europe."]}
    assert switching.value.message_dict == {"countries": ["Germany is already in the zone Europe."]}
    assert list(ShippingZone.objects.order_by("pk").values_list("name", "is_active")) == [
        ("Europe", True),
        ("Germany only", False),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_zones_saved_at_once_cannot_both_succeed():
    outcome: dict[str, object] = {}

    def second_staff_member() -> None:
        try:
            zone_save(zone=ShippingZone(name="Germany", countries=["DE"], is_active=True))
            outcome["second"] = "saved"
        except ValidationError as error:
            outcome["second"] = error.message_dict["countries"]
        finally:
            connections.close_all()

    other = threading.Thread(target=second_staff_member)
    with transaction.atomic():
        zone_save(zone=ShippingZone(name="Europe", countries=["DE", "FR"], is_active=True))
        # The first save's transaction is still open: the second must wait for it, not read past it.
        other.start()
        _wait_for_a_lock_waiter()
    other.join(timeout=30)

    assert outcome["second"] == ["Germany is already in the zone Europe."]
    assert list(ShippingZone.objects.values_list("name", flat=True)) == ["Europe"]


def _wait_for_a_lock_waiter() -> None:
    """Return once another session waits for an advisory lock (the second save is blocked)."""
    for _ in range(3000):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the second save never waited for the zones' lock")


def test_an_active_zone_with_no_active_method_is_warned_about():
    zone = ShippingZoneFactory(name="Ireland", countries=["IE"])
    ShippingMethodFactory(zone=zone, price=495, is_active=False)
    served = ShippingZoneFactory(name="Malta", countries=["MT"])
    ShippingMethodFactory(zone=served, price=495)
    dormant = ShippingZoneFactory(name="Cyprus", countries=["CY"], is_active=False)

    warnings = {z.name: zone_warning(z, z.methods.prefetch_related("bands")) for z in (zone, served, dormant)}

    assert warnings == {
        "Ireland": "Zone Ireland offers no delivery method: shoppers there cannot check out.",
        "Malta": None,
        "Cyprus": None,
    }


# Methods and their bands -----------------------------------------------------------------------


def method_data(**data) -> dict:
    fields = {"code": "standard", "name": "Standard", "description": "", "estimate": "3–5 working days"}
    return {**fields, "basis": "value", "free_over": "", "is_active": "on", "position": "0", **data}


def bands_data(*rows: tuple[str, str, str]) -> dict:
    data = {"bands-TOTAL_FORMS": str(len(rows)), "bands-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        names = [f"bands-{index}-{name}" for name in ("lower", "upper", "price")]
        data |= dict(zip(names, row, strict=True))
    return data


def check_method(zone, method_fields: dict, *rows):
    method = ShippingMethod(zone=zone)
    form = MethodForm(method_fields, instance=method)
    form_valid = form.is_valid()
    bands = band_formset_class()(bands_data(*rows), instance=method, prefix="bands")
    return form, bands, form_valid and bands.is_valid()


@pytest.fixture
def zone():
    return ShippingZoneFactory(name="Ireland", countries=["IE"])


def test_a_value_band_list_from_0_without_gaps_is_saved_in_minor_units(zone):
    form, bands, valid = check_method(
        zone, method_data(free_over="75"), ("0", "50", "6.95"), ("50", "", "3.5")
    )

    assert valid, (form.errors, bands.errors, bands.non_form_errors())
    method = method_save(method=form.instance, bands=bands.bands())
    assert method.free_over == 7500
    assert list(method.bands.values_list("lower", "upper", "price")) == [(0, 5000, 695), (5000, None, 350)]


def test_weight_bands_are_in_whole_grams_and_spoken_of_in_grams(zone):
    weight = method_data(basis="weight")
    form, bands, valid = check_method(zone, weight, ("0", "2000", "4.95"), ("2000", "10000", "9.95"))
    fraction = check_method(zone, weight, ("0", "2000.5", "4.95"))[1]
    gap = check_method(zone, weight, ("0", "1000", "4.95"), ("2000", "", "9.95"))[1]

    assert valid, bands.errors
    assert [(band.lower, band.upper, band.price) for band in bands.bands()] == [
        (0, 2000, 495),
        (2000, 10000, 995),
    ]
    assert not fraction.is_valid()
    assert fraction.errors[0]["upper"] == ["Give weights in whole grams, e.g. 500."]
    assert not gap.is_valid()
    assert gap.non_form_errors() == [
        "The band from 2,000 g leaves a gap from 1,000 g to 2,000 g: start it at 1,000 g, "
        "where the band before it ends."
    ]


@pytest.mark.parametrize(
    ("rows", "wrong", "message"),
    [
        (
            [("0", "40", "4.95"), ("50", "", "2.95")],
            1,
            "The band from £50.00 leaves a gap from £40.00 to £50.00: start it at £40.00, "
            "where the band before it ends.",
        ),
        (
            [("0", "50", "4.95"), ("30", "", "2.95")],
            1,
            "The band from £30.00 overlaps the band before it, which runs to £50.00: start it at £50.00.",
        ),
        ([("10", "", "4.95")], 0, "The first band must start at 0; the lowest starts at £10.00."),
        (
            [("0", "", "4.95"), ("50", "", "2.95")],
            0,
            "The band from £0.00 has no upper limit, so it must be the last; "
            "the band from £50.00 comes after it.",
        ),
        (
            # Typed out of order: the band that is wrong is named whatever row it is in.
            [("50", "", "2.95"), ("0", "40", "4.95")],
            0,
            "The band from £50.00 leaves a gap from £40.00 to £50.00: start it at £40.00, "
            "where the band before it ends.",
        ),
    ],
)
def test_bands_with_gaps_or_overlaps_are_refused_naming_the_band(zone, rows, wrong, message):
    form, bands, valid = check_method(zone, method_data(), *rows)

    assert not valid
    assert bands.non_form_errors() == [message]
    assert bands.forms[wrong].non_field_errors() == [message]
    assert not ShippingMethod.objects.exists() and not ShippingBand.objects.exists()


def test_a_band_ending_where_it_starts_or_no_band_at_all_is_refused(zone):
    empty = check_method(zone, method_data(), ("0", "0", "4.95"))[1]
    none = check_method(zone, method_data(), ("", "", ""))[1]

    assert not empty.is_valid()
    assert empty.errors[0]["upper"] == ["The band from £0.00 must end above where it starts."]
    assert not none.is_valid()
    assert none.non_form_errors() == ["Give the method at least one price band."]


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-1", "A delivery price cannot be negative."),
        ("1000.01", "A delivery price of that size is not possible: at most £1,000.00."),
        ("99999999999999999", "A delivery price of that size is not possible: at most £1,000.00."),
        ("4.955", "Use at most 2 decimal places."),
        ("four", "Enter an amount as a number, e.g. 4.95."),
        ("", "Give the band a price (0 for free)."),
    ],
)
def test_a_negative_or_absurd_price_is_refused(zone, price, message):
    bands = check_method(zone, method_data(), ("0", "", price))[1]

    assert not bands.is_valid()
    assert bands.errors[0]["price"] == [message]


FREE_FROM_0 = (
    "Free delivery from 0 would make this method always free: leave it blank for never, "
    "or give the amount from which delivery is free."
)


@pytest.mark.parametrize(
    ("free_over", "message"),
    [
        ("0", FREE_FROM_0),
        ("0.00", FREE_FROM_0),
        ("-5", "A free-delivery threshold cannot be negative."),
        ("1000000", "A free-delivery threshold of that size is not possible: at most £100,000.00."),
    ],
)
def test_free_delivery_from_0_or_a_nonsense_threshold_is_refused(zone, free_over, message):
    form = check_method(zone, method_data(free_over=free_over), ("0", "", "4.95"))[0]

    assert not form.is_valid()
    assert form.errors["free_over"] == [message]


def test_a_code_already_used_in_the_zone_is_refused_but_free_in_another_zone(zone):
    ShippingMethodFactory(zone=zone, code="standard", price=495)

    same_zone = check_method(zone, method_data(), ("0", "", "4.95"))[0]
    other_zone = check_method(
        ShippingZoneFactory(name="Malta", countries=["MT"]), method_data(), ("0", "", "4.95")
    )

    assert not same_zone.is_valid()
    assert same_zone.errors["code"] == ["The zone Ireland already has a method with the code “standard”."]
    assert other_zone[2]


def test_a_methods_bands_are_replaced_as_a_whole(zone):
    method = ShippingMethodFactory(zone=zone, price=None)
    ShippingBandFactory(method=method, lower=0, upper=5000, price=495)
    ShippingBandFactory(method=method, lower=5000, upper=None, price=295)

    method_bands_replace(
        method_id=method.pk, bands=[Band(0, 2500, 595), Band(2500, 5000, 395), Band(5000, None, 0)]
    )

    assert list(method.bands.values_list("lower", "upper", "price")) == [
        (0, 2500, 595),
        (2500, 5000, 395),
        (5000, None, 0),
    ]


def test_a_method_code_taken_since_the_form_was_checked_is_refused_with_nothing_written(zone):
    ShippingMethodFactory(zone=zone, code="standard", price=495)

    with pytest.raises(ValidationError) as refused:
        method_save(
            method=ShippingMethod(zone=zone, code="standard", name="Second"), bands=[Band(0, None, 100)]
        )

    assert refused.value.message_dict == {
        "code": ["The zone Ireland already has a method with the code “standard”."]
    }
    assert list(ShippingBand.objects.values_list("price", flat=True)) == [495]
