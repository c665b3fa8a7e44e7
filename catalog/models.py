import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone


def _default_currency() -> str:
    return settings.SHOP_CURRENCY


class Category(models.Model):
    parent = models.ForeignKey(
        "self", null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:category-detail", kwargs={"slug": self.slug})


class Product(models.Model):
    category = models.ForeignKey(Category, related_name="products", on_delete=models.PROTECT)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    is_featured = models.BooleanField(default=False)
    # The lowest price among active variants, kept by catalog.services so that
    # listings can filter and sort by price without aggregating variants.
    price_from = models.PositiveBigIntegerField(default=0, help_text="In minor units.")
    currency = models.CharField(max_length=3, default=_default_currency)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            GinIndex(fields=["search_vector"], name="product_search_vector"),
            GinIndex(fields=["title"], name="product_title_trgm", opclasses=["gin_trgm_ops"]),
            models.Index(fields=["category", "is_active"], name="product_category_active"),
            models.Index(fields=["price_from"], name="product_price_from"),
            models.Index(fields=["title"], name="product_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product-detail", kwargs={"slug": self.slug})


class Variant(models.Model):
    product = models.ForeignKey(Product, related_name="variants", on_delete=models.CASCADE)
    sku = models.CharField("SKU", max_length=64, unique=True)
    # Option name to value, e.g. {"size": "M", "colour": "Blue"}.
    options = models.JSONField(default=dict, blank=True)
    price = models.PositiveBigIntegerField(help_text="In minor units, e.g. 1250 for 12.50.")
    currency = models.CharField(max_length=3, default=_default_currency)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        indexes = [GinIndex(fields=["options"], name="variant_options")]

    def __str__(self) -> str:
        return f"{self.product.title} — {self.label}" if self.options else self.sku

    @property
    def label(self) -> str:
        """Return the option values joined for display, e.g. 'M / Blue'."""
        return " / ".join(str(value) for value in self.options.values()) or "Standard"


def product_image_path(instance: "ProductImage", filename: str) -> str:
    return f"products/{filename}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, related_name="images", on_delete=models.CASCADE)
    image = models.ImageField(upload_to=product_image_path, max_length=200)
    alt_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.alt_text or self.image.name


class Stock(models.Model):
    """Stock of one SKU. Available = on_hand − allocated (held by reservations)."""

    variant = models.OneToOneField(Variant, primary_key=True, related_name="stock", on_delete=models.CASCADE)
    on_hand = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0, help_text="Units held by open reservations.")
    low_stock_threshold = models.PositiveIntegerField(default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.variant_id}: {self.on_hand_before} → {self.on_hand_after}"

    @property
    def change(self) -> int:
        return self.on_hand_after - self.on_hand_before
