"""What each promotion took off an order, kept with the order (imported by checkout.models)."""

from django.db import models
from django.db.models import Q


class OrderDiscount(models.Model):
    """One promotion on one order: a code's reduction, or what a sale took off the lines' prices.

    A code's amount is included in Order.discount_total (its lines' OrderLine.discount and, for
    free delivery, `delivery`); a sale's is already in the lines' unit prices, so it is shown, never
    taken off again."""

    class Kind(models.TextChoices):
        CODE = "code", "Code"
        SALE = "sale", "Sale"

    order = models.ForeignKey("checkout.Order", related_name="discounts", on_delete=models.CASCADE)
    promotion = models.ForeignKey("promotions.Promotion", related_name="+", on_delete=models.PROTECT)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=40, blank=True)  # as entered, for a code
    name = models.CharField(max_length=120)  # the promotion's name when the order was placed
    amount = models.PositiveBigIntegerField()  # taken off in all, minor units
    delivery = models.PositiveBigIntegerField(default=0)  # of which off delivery
    position = models.PositiveSmallIntegerField(default=0)  # the order codes were applied in

    class Meta:
        ordering = ["kind", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "promotion"], name="orderdiscount_one_per_promotion"),
            models.CheckConstraint(condition=Q(delivery__lte=models.F("amount")), name="orderdiscount_parts"),
            models.CheckConstraint(
                condition=Q(kind="code") & ~Q(code="") | Q(kind="sale", code="", delivery=0),
                name="orderdiscount_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on order {self.order_id}: {self.amount}"

    @property
    def label(self) -> str:
        """How a discount is named on a row, e.g. "Ten off (SAVE10)"."""
        return f"{self.name} ({self.code})" if self.code else self.name
