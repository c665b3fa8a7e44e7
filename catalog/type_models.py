"""Product types and their option axes (imported by catalog.models).

A type (Clothing, Cookware) names the axes its products vary on (size, colour; finish), each with
its values in the order shoppers see them; a colour value has a swatch. A variant is one value on
each axis of its product's type. Variant.options keeps the same choice as a name-to-value map,
written with it by catalog.variant_options, for the listings' filters and facets.
"""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

SWATCH = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as # and six hexadecimal digits, e.g. #1f2d5a.")
AXIS_NAME = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}$", "An axis name is lower-case letters, digits or _, starting with a letter."
)


class ProductType(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=90, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OptionAxis(models.Model):
    product_type = models.ForeignKey(ProductType, related_name="axes", on_delete=models.CASCADE)
    # As it appears in a listing's query string and Variant.options: "colour".
    name = models.CharField(max_length=40, validators=[AXIS_NAME])
    label = models.CharField(max_length=60)  # as shoppers read it: "Colour"
    is_colour = models.BooleanField(default=False, help_text="Its values have swatches.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "option axes"
        constraints = [
            models.UniqueConstraint(fields=["product_type", "name"], name="optionaxis_name_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.product_type}: {self.label}"


class OptionValue(models.Model):
    axis = models.ForeignKey(OptionAxis, related_name="values", on_delete=models.CASCADE)
    value = models.CharField(max_length=60)  # "Navy", "M"
    swatch = models.CharField(max_length=7, blank=True, validators=[SWATCH])
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["axis", "value"], name="optionvalue_unique_per_axis"),
            models.CheckConstraint(
                condition=Q(swatch="") | Q(swatch__regex=r"^#[0-9a-fA-F]{6}$"), name="optionvalue_swatch_hex"
            ),
        ]

    def __str__(self) -> str:
        return self.value


class VariantOption(models.Model):
    """A variant's value on one axis: one per axis."""

    variant = models.ForeignKey("catalog.Variant", related_name="option_rows", on_delete=models.CASCADE)
    axis = models.ForeignKey(OptionAxis, related_name="+", on_delete=models.PROTECT)
    value = models.ForeignKey(OptionValue, related_name="variant_rows", on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["variant", "axis"], name="variantoption_one_per_axis")]

    def __str__(self) -> str:
        return f"{self.variant_id}: {self.value}"
