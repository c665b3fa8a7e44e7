"""A shopper's saved addresses (the table keeps the name it had in the checkout app)."""

from django.conf import settings
from django.db import models
from django_countries.fields import CountryField


class Address(models.Model):
    """A saved shipping address of a signed-in shopper."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="addresses", on_delete=models.CASCADE)
    full_name = models.CharField(max_length=120)
    line1 = models.CharField("address line 1", max_length=120)
    line2 = models.CharField("address line 2", max_length=120, blank=True)
    city = models.CharField(max_length=80)
    postcode = models.CharField(max_length=16)
    country = CountryField(default="GB")
    phone = models.CharField(max_length=30, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "checkout_address"
        ordering = ["-is_default", "-created_at"]
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.full_name}, {self.line1}, {self.city} {self.postcode}"
