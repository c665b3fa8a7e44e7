from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from catalog.type_models import OptionAxis, OptionValue, ProductType, VariantOption  # noqa: F401


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
    product_type = models.ForeignKey(
        ProductType,
        null=True,
        blank=True,
        related_name="products",
        on_delete=models.PROTECT,
        help_text="The axes its variants vary on. Blank: one variant, or options typed by hand.",
    )
    tax_class = models.ForeignKey(
        "taxes.TaxClass",
        null=True,
        blank=True,
        related_name="products",
        on_delete=models.PROTECT,
        help_text="Blank: the standard rate.",
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # A published product is shown from this moment on (blank: at once).
    publish_at = models.DateTimeField(null=True, blank=True)
    is_featured = models.BooleanField(default=False)
    seo_title = models.CharField("SEO title", max_length=70, blank=True, help_text="Blank: the title.")
    seo_description = models.CharField(
        "SEO description", max_length=160, blank=True, help_text="Blank: the start of the description."
    )
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
    # The price it is compared with ("was"), set by staff; blank: none.
    compare_at_price = models.PositiveBigIntegerField(null=True, blank=True, help_text="In minor units.")
    barcode = models.CharField(max_length=64, blank=True, help_text="GTIN, EAN or UPC.")
    weight_grams = models.PositiveIntegerField(
        default=0, help_text="Packed weight, for delivery priced by weight."
    )
    currency = models.CharField(max_length=3, default=_default_currency)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        indexes = [GinIndex(fields=["options"], name="variant_options")]
        constraints = [
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gt=F("price")),
                name="variant_compare_at_above_price",
            ),
        ]

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
    # The colour it shows, so the product page shows it first when that colour is chosen.
    colour = models.ForeignKey(
        OptionValue, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    # The widths it was resized to (WebP files beside it, catalog.images), for the pages' srcset.
    widths = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.alt_text or self.image.name


class ProductEvent(models.Model):
    """One change staff made to a product, in words: who, when and what."""

    product = models.ForeignKey(Product, related_name="events", on_delete=models.CASCADE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.message[:60]}"


class ImportJob(models.Model):
    """One catalogue file staff uploaded: checked first (a dry run), then imported when they say
    so, each as a background task that counts its progress here."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked: ready to import"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    file_name = models.CharField(max_length=200)
    content = models.TextField()  # the file's text, decoded
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    total = models.PositiveIntegerField(default=0)  # products in the file
    processed = models.PositiveIntegerField(default=0)
    # [{"handle", "line", "action", "reasons"}] of the last run, and its counts by action.
    outcomes = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name}: {self.status}"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.IMPORTING)
