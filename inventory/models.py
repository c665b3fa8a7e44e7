"""Stock of each SKU and the reservations that hold it.

The tables keep the names they had when stock lived in the catalogue app.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from catalog.models import Variant


class Stock(models.Model):
    """Stock of one SKU. Available = on_hand − allocated (held by reservations)."""

    variant = models.OneToOneField(Variant, primary_key=True, related_name="stock", on_delete=models.CASCADE)
    on_hand = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0, help_text="Units held by open reservations.")
    low_stock_threshold = models.PositiveIntegerField(default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "catalog_stock"
        verbose_name_plural = "stock"
        constraints = [
            models.CheckConstraint(
                condition=Q(allocated__lte=F("on_hand")), name="stock_allocated_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}: {self.available} available"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class Reservation(models.Model):
    """Stock held for a reference (e.g. an order) until committed, released or expired."""

    class Status(models.TextChoices):
        HELD = "held"
        COMMITTED = "committed"
        RELEASED = "released"
        EXPIRED = "expired"
        # Committed stock put back on the shelf (e.g. a paid order canceled before shipping).
        RETURNED = "returned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=100, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    # SHA-256 of the request body, to refuse a key reused for a different request.
    request_fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.HELD)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "catalog_reservation"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["expires_at"], name="reservation_held_expiry", condition=Q(status="held")),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey(Variant, related_name="+", on_delete=models.PROTECT)
    sku = models.CharField("SKU", max_length=64)
    quantity = models.PositiveIntegerField()

    class Meta:
        db_table = "catalog_reservationline"
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["reservation", "variant"], name="reservation_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class StockAdjustment(models.Model):
    """A change of on-hand stock made by a person, with the reason they gave."""

    variant = models.ForeignKey(Variant, related_name="stock_adjustments", on_delete=models.CASCADE)
    on_hand_before = models.PositiveIntegerField()
    on_hand_after = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "catalog_stockadjustment"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.variant_id}: {self.on_hand_before} → {self.on_hand_after}"

    @property
    def change(self) -> int:
        return self.on_hand_after - self.on_hand_before
