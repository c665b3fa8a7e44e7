"""Writes for tax: classes and their rates per country.

Refusals are `ValidationError`s keyed by the form field they concern; nothing is written when
one is raised.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from taxes.forms import rate_taken
from taxes.models import TaxClass, TaxRate

logger = logging.getLogger(__name__)


def tax_rate_save(*, rate: TaxRate) -> TaxRate:
    """Save a new or changed rate; refuse (ValidationError) a second rate for its class and country."""
    try:
        with transaction.atomic():
            rate.save()
    except IntegrityError as error:
        # Another member of staff added the same rate since the form was checked.
        message = rate_taken(tax_class=rate.tax_class, country=rate.country, rate_id=rate.pk)
        if message is None:
            raise
        raise ValidationError({"country": message}) from error
    logger.info("tax rate saved", extra={"tax_rate": rate.pk, "country": rate.country})
    return rate


def tax_rate_delete(*, rate_id: int) -> bool:
    """Delete a rate (its class then carries no tax in that country); return whether there was one."""
    deleted, _ = TaxRate.objects.filter(pk=rate_id).delete()
    if deleted:
        logger.info("tax rate deleted", extra={"tax_rate": rate_id})
    return deleted > 0


def tax_class_create(*, tax_class: TaxClass) -> TaxClass:
    """Save a new tax class; refuse (ValidationError) a code already in use."""
    try:
        with transaction.atomic():
            tax_class.save()
    except IntegrityError as error:
        if not TaxClass.objects.filter(code=tax_class.code).exists():
            raise
        raise ValidationError({"code": "There is already a tax class with that code."}) from error
    logger.info("tax class created", extra={"tax_class": tax_class.pk})
    return tax_class


atax_rate_save = sync_to_async(tax_rate_save)
atax_rate_delete = sync_to_async(tax_rate_delete)
atax_class_create = sync_to_async(tax_class_create)
