"""Writes for delivery: zones, their methods and the methods' price bands.

A country is in one active zone at most. Every write that can make a zone active or change
its countries takes the zones' lock and checks again under it, so two staff saving zones
that overlap at the same moment cannot both succeed. Refusals are `ValidationError`s keyed
by the form field they concern; nothing is written when one is raised.
"""

from __future__ import annotations

import logging
import zlib

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from catalog.selectors import catalog_cache_clear
from shipping.forms import Band, method_code_taken, zone_overlaps
from shipping.models import ShippingBand, ShippingMethod, ShippingZone

logger = logging.getLogger(__name__)

# The key of the transaction-level advisory lock that serialises changes to which countries
# active zones cover.
ZONES_LOCK_KEY = zlib.crc32(b"shipping.zones")


def zones_lock() -> None:
    """Hold the zones' lock until the current transaction ends (call inside one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ZONES_LOCK_KEY])


def _refuse_overlap(zone: ShippingZone) -> None:
    problems = zone_overlaps(countries=zone.countries, zone_id=zone.pk)
    if problems:
        raise ValidationError({"countries": problems})


def zone_save(*, zone: ShippingZone) -> ShippingZone:
    """Save a new or changed zone; refuse it (ValidationError) if, active, it shares a country
    with another active zone."""
    with transaction.atomic():
        zones_lock()
        if zone.is_active:
            _refuse_overlap(zone)
        zone.save()
    catalog_cache_clear()  # the delivery promise the pages keep
    logger.info("delivery zone saved", extra={"zone": zone.pk})
    return zone


def zone_active_set(*, zone_id: int, is_active: bool) -> ShippingZone:
    """Switch a zone on or off and return it; switching on is refused (ValidationError) when one
    of its countries is in another active zone. Raises ShippingZone.DoesNotExist."""
    with transaction.atomic():
        zones_lock()
        zone = ShippingZone.objects.select_for_update().get(pk=zone_id)
        zone.is_active = is_active
        if is_active:
            _refuse_overlap(zone)
        zone.save(update_fields=["is_active"])
    catalog_cache_clear()  # the delivery promise the pages keep
    logger.info("delivery zone switched", extra={"zone": zone.pk, "is_active": is_active})
    return zone


def method_bands_replace(*, method_id: int, bands: list[Band]) -> None:
    """Give the method exactly these bands (checked by the band formset), in one transaction."""
    with transaction.atomic():
        ShippingMethod.objects.select_for_update().filter(pk=method_id).values_list("pk").get()
        # All at once: edited bands may take over one another's starts.
        ShippingBand.objects.filter(method_id=method_id).delete()
        ShippingBand.objects.bulk_create(
            ShippingBand(method_id=method_id, lower=band.lower, upper=band.upper, price=band.price)
            for band in bands
        )


def method_save(*, method: ShippingMethod, bands: list[Band]) -> ShippingMethod:
    """Save a new or changed method with exactly these bands; refuse (ValidationError) a code its
    zone already uses."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                method.save()
        except IntegrityError as error:
            # Another member of staff took the code since the form was checked.
            message = method_code_taken(zone=method.zone, code=method.code, method_id=method.pk)
            if message is None:
                raise
            raise ValidationError({"code": message}) from error
        method_bands_replace(method_id=method.pk, bands=bands)
    catalog_cache_clear()  # the delivery promise the pages keep
    logger.info("delivery method saved", extra={"method": method.pk, "zone": method.zone_id})
    return method


def method_active_set(*, method_id: int, is_active: bool) -> ShippingMethod:
    """Offer a method to shoppers or stop offering it, and return it. Raises DoesNotExist."""
    with transaction.atomic():
        method = ShippingMethod.objects.select_for_update().select_related("zone").get(pk=method_id)
        method.is_active = is_active
        method.save(update_fields=["is_active"])
    catalog_cache_clear()  # the delivery promise the pages keep
    logger.info("delivery method switched", extra={"method": method.pk, "is_active": is_active})
    return method


azone_save = sync_to_async(zone_save)
azone_active_set = sync_to_async(zone_active_set)
amethod_save = sync_to_async(method_save)
amethod_active_set = sync_to_async(method_active_set)
