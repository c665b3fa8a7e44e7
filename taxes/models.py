"""Tax classes (what kind of goods) and their rates in each destination country."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


class TaxClass(models.Model):
    """A kind of goods for tax: standard, reduced, zero or exempt; staff may add more."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "tax classes"

    def __str__(self) -> str:
        return self.name


class TaxRate(models.Model):
    """The rate of one tax class in one destination country. No rate: no tax (0 %)."""

    tax_class = models.ForeignKey(TaxClass, on_delete=models.CASCADE, related_name="rates")
    country = models.CharField(max_length=2)
    rate = models.DecimalField(
        max_digits=6, decimal_places=3, validators=PERCENT, help_text="A percentage, e.g. 20 or 5.5."
    )

    class Meta:
        ordering = ["country", "tax_class__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tax_class", "country"], name="taxrate_one_per_class_and_country"
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lte=100), name="taxrate_rate_is_a_percentage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tax_class} in {self.country}: {format(self.rate.normalize(), 'f')} %"
