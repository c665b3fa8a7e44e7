"""Carts: a guest's found through the session, a signed-in shopper's by user (imported by checkout.models)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from catalog.models import Variant


class Cart(models.Model):
    """A shopper's cart: a guest's is found through the session, a signed-in shopper's by user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="cart", on_delete=models.CASCADE
    )
    # Bumped on every change, so a checkout form can tell the cart changed under it.
    version = models.PositiveIntegerField(default=1)
    # The codes the shopper entered, in that order (each applies to what the ones before left).
    discount_codes = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey(Variant, related_name="+", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_unique_variant"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} × {self.quantity}"
