"""Delivery: zones (sets of countries), the methods each zone offers, and their price bands.

Prices are in the shop's currency and carry tax as catalogue prices do (PRICES_INCLUDE_TAX).
A method is priced by the order's value or by its weight: its bands cover that measure
from 0 without gaps, the last one open-ended or capped (past a capped band the method is
not offered). Goods reaching `free_over` ship free.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


def _default_currency() -> str:
    return settings.SHOP_CURRENCY


class ShippingZone(models.Model):
    name = models.CharField(max_length=80)
    countries = ArrayField(models.CharField(max_length=2), help_text="ISO country codes, e.g. GB.")
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        indexes = [models.Index(fields=["countries"], name="shippingzone_countries")]

    def __str__(self) -> str:
        return self.name


class ShippingMethod(models.Model):
    class Basis(models.TextChoices):
        VALUE = "value", "Order value"
        WEIGHT = "weight", "Weight"

    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="methods")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    estimate = models.CharField(max_length=80, blank=True, help_text="e.g. 2–4 working days")
    basis = models.CharField(max_length=10, choices=Basis.choices, default=Basis.VALUE)
    currency = models.CharField(max_length=3, default=_default_currency)
    free_over = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Goods of this value or more ship free (minor units; blank: never)."
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["zone", "code"], name="shippingmethod_code_per_zone")]

    def __str__(self) -> str:
        return f"{self.name} ({self.zone})"


class ShippingBand(models.Model):
    """From `lower` (inclusive) to `upper` (exclusive; blank: no limit) of the method's measure:
    minor units of goods value, or grams."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="bands")
    lower = models.PositiveBigIntegerField(default=0)
    upper = models.PositiveBigIntegerField(null=True, blank=True)
    price = models.PositiveBigIntegerField(help_text="In minor units.")

    class Meta:
        ordering = ["method", "lower"]
        constraints = [
            models.UniqueConstraint(fields=["method", "lower"], name="shippingband_one_per_start"),
            models.CheckConstraint(
                condition=models.Q(upper__isnull=True) | models.Q(upper__gt=models.F("lower")),
                name="shippingband_upper_above_lower",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lower}–{self.upper or '∞'}: {self.price}"
