"""Promotions: sales that lower prices for a while, and discount codes whose uses are held like
stock, so that a limit holds under any rush.

A code's use is held in the transaction that writes the order (one conditional UPDATE of the
code's counter, checked by the database), consumed when the order is paid, and given back when
the order is canceled, refused or never paid. A sale needs no code: while it runs, the prices of
what it covers are lowered everywhere they are shown and charged.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


def _default_currency() -> str:
    return settings.SHOP_CURRENCY


class Promotion(models.Model):
    class Kind(models.TextChoices):
        CODE = "code", "Discount codes"
        SALE = "sale", "Sale (no code)"

    class Reward(models.TextChoices):
        PERCENT = "percent", "Percentage off"
        FIXED = "fixed", "Amount off"
        FREE_DELIVERY = "free_delivery", "Free delivery"

    name = models.CharField(max_length=120, help_text="Shown to shoppers, e.g. “Summer sale 10 % off”.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CODE)
    reward = models.CharField(max_length=20, choices=Reward.choices)
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(100))],
    )
    amount = models.PositiveBigIntegerField(null=True, blank=True, help_text="In minor units.")
    currency = models.CharField(max_length=3, default=_default_currency)
    # Neither products nor categories: the whole order.
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="promotions")
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="promotions")
    min_spend = models.PositiveBigIntegerField(null=True, blank=True, help_text="In minor units.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    once_per_customer = models.BooleanField(default=False)
    # Codes only: whether its codes may be used with other codes marked so.
    combinable = models.BooleanField(default=False)
    # Codes only: whether its codes leave items on sale at their sale price.
    exclude_sale_items = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Off: paused.")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reward="percent", percent__gt=0, percent__lte=100, amount__isnull=True)
                | Q(reward="fixed", amount__gt=0, percent__isnull=True)
                | Q(reward="free_delivery", amount__isnull=True, percent__isnull=True),
                name="promotion_reward_has_its_value",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="promotion_ends_after_it_starts",
            ),
            # A sale lowers prices: by a percentage below 100 or an amount, with no code's conditions.
            models.CheckConstraint(
                condition=Q(kind="code")
                | (
                    Q(kind="sale", reward__in=["percent", "fixed"], min_spend__isnull=True)
                    & (Q(percent__isnull=True) | Q(percent__lt=100))
                    & Q(once_per_customer=False, combinable=False, exclude_sale_items=False)
                ),
                name="promotion_sale_lowers_prices",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sale(self) -> bool:
        return self.kind == self.Kind.SALE


class DiscountCode(models.Model):
    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="codes")
    # Kept as shoppers' input is matched: upper case, no surrounding spaces.
    code = models.CharField(max_length=40, unique=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: no limit.")
    # Uses held or consumed: raised by one conditional UPDATE, never past the limit.
    uses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(uses__lte=F("usage_limit")),
                name="discountcode_uses_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CodeUse(models.Model):
    """One order's use of a code: held at placement, consumed when paid, released otherwise."""

    class Status(models.TextChoices):
        HELD = "held"
        CONSUMED = "consumed"
        RELEASED = "released"

    code = models.ForeignKey(DiscountCode, on_delete=models.PROTECT, related_name="code_uses")
    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="code_uses")
    order = models.ForeignKey("checkout.Order", on_delete=models.PROTECT, related_name="code_uses")
    # Set only for a once-per-customer promotion: "user:<id>" or "email:<address>".
    customer_key = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001 - NULL escapes the constraint
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "promotion"], name="codeuse_one_per_promotion"),
            models.UniqueConstraint(
                fields=["promotion", "customer_key"],
                condition=Q(status__in=["held", "consumed"]),
                name="codeuse_once_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} on order {self.order_id}: {self.status}"


class PromotionEvent(models.Model):
    """One change staff made to a promotion or its codes: who, when and what, in words."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="events")
    # Kept when the account goes: the history still says a change was made.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["promotion", "-created_at"], name="promotionevent_history")]

    def __str__(self) -> str:
        return f"{self.promotion_id} at {self.created_at:%Y-%m-%d %H:%M}: {self.message[:60]}"
