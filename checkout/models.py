import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django_countries.fields import CountryField

from catalog.models import Variant
from checkout.cart_models import Cart, CartLine  # noqa: F401 - the app's models, defined apart
from checkout.discount_models import OrderDiscount  # noqa: F401


def _default_currency() -> str:
    return settings.SHOP_CURRENCY


def _public_token() -> str:
    return secrets.token_urlsafe(24)


class Order(models.Model):
    # Money and goods move apart (a shipped order partly refunded is still shipped); the
    # order's own status follows from them and the cancel (checkout/services/orders.py).
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CANCELED = "canceled", "Canceled"
        CLOSED = "closed", "Closed"

    class PaymentStatus(models.TextChoices):
        AWAITING = "awaiting", "Awaiting payment"
        PAID = "paid", "Paid"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        VOIDED = "voided", "Voided"

    class FulfilmentStatus(models.TextChoices):
        UNFULFILLED = "unfulfilled", "Not shipped"
        PARTIALLY_FULFILLED = "partially_fulfilled", "Partly shipped"
        FULFILLED = "fulfilled", "Shipped"

    number = models.CharField(max_length=20, unique=True)
    # The unguessable part of a guest's link to the order.
    public_token = models.CharField(max_length=64, unique=True, default=_public_token, editable=False)
    # One order per submitted cart state: a double submit finds the same order.
    checkout_key = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="orders", on_delete=models.SET_NULL
    )
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.AWAITING
    )
    fulfilment_status = models.CharField(
        max_length=20, choices=FulfilmentStatus.choices, default=FulfilmentStatus.UNFULFILLED
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    # Shipping address, as given at checkout.
    full_name = models.CharField(max_length=120)
    line1 = models.CharField(max_length=120)
    line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80)
    postcode = models.CharField(max_length=16)
    country = CountryField()
    phone = models.CharField(max_length=30, blank=True)
    # Computed at placement: subtotal and shipping_total net of tax, tax_total all of it (shipping_tax
    # on delivery; per rate in OrderTax, per line on OrderLine); total is what was charged.
    shipping_method_code = models.CharField(max_length=40)
    shipping_method_name = models.CharField(max_length=80)
    currency = models.CharField(max_length=3)
    prices_include_tax = models.BooleanField(default=True)
    subtotal = models.PositiveBigIntegerField()
    shipping_total = models.PositiveBigIntegerField()
    shipping_tax = models.PositiveBigIntegerField(default=0)
    # What the codes took off, as the catalogue prices carry tax, from the lines (OrderLine.discount)
    # and delivery; each code's share in OrderDiscount. A sale is in the lines' unit prices instead.
    discount_total = models.PositiveBigIntegerField(default=0)
    tax_name = models.CharField(max_length=40, blank=True)
    tax_total = models.PositiveBigIntegerField()
    total = models.PositiveBigIntegerField()
    reservation_id = models.CharField(max_length=64, blank=True)
    reservation_expires_at = models.DateTimeField(null=True, blank=True)
    stock_committed_at = models.DateTimeField(null=True, blank=True)
    # Set when something needs a person: an amount mismatch, paid without stock, a dispute.
    is_flagged = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipping_notice_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="order_status_created"),
            models.Index(fields=["created_at"], name="order_flagged", condition=Q(is_flagged=True)),
            # Sales figures read paid orders by payment time: an index-only scan.
            models.Index(
                fields=["paid_at"],
                include=["total"],
                name="order_paid_at",
                condition=Q(paid_at__isnull=False),
            ),
            models.Index(
                fields=["paid_at"],
                name="order_awaiting_fulfilment",
                condition=Q(
                    status="open",
                    payment_status__in=["paid", "partially_refunded"],
                    fulfilment_status__in=["unfulfilled", "partially_fulfilled"],
                ),
            ),
            models.Index(Lower("email"), name="order_email_lower"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("shipping_total") + models.F("tax_total")),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(shipping_tax__lte=models.F("tax_total")), name="order_shipping_tax"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("checkout:order-detail", kwargs={"token": self.public_token})

    @property
    def goods_tax(self) -> int:
        return self.tax_total - self.shipping_tax

    @property
    def goods_gross(self) -> int:
        return self.subtotal + self.goods_tax

    @property
    def shipping_gross(self) -> int:
        return self.shipping_total + self.shipping_tax

    @property
    def is_payable(self) -> bool:
        return self.status == self.Status.OPEN and self.payment_status == self.PaymentStatus.AWAITING

    @property
    def is_waiting_to_ship(self) -> bool:
        return (
            self.status == self.Status.OPEN
            and self.payment_status in (self.PaymentStatus.PAID, self.PaymentStatus.PARTIALLY_REFUNDED)
            and self.fulfilment_status != self.FulfilmentStatus.FULFILLED
        )

    @property
    def state_label(self) -> str:
        """Return the order's state in a few words for its customer, e.g. "Shipped · Partially refunded"."""
        if self.status == self.Status.CANCELED:
            return self.get_status_display()
        parts = []
        if self.fulfilment_status != self.FulfilmentStatus.UNFULFILLED:
            parts.append(self.get_fulfilment_status_display())
        if not parts or self.payment_status != self.PaymentStatus.PAID:
            parts.append(self.get_payment_status_display())
        return " · ".join(parts)

    @property
    def is_cancelable(self) -> bool:
        return self.status == self.Status.OPEN and self.fulfilment_status == self.FulfilmentStatus.UNFULFILLED


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey(Variant, null=True, related_name="+", on_delete=models.SET_NULL)
    sku = models.CharField("SKU", max_length=64)
    product_title = models.CharField(max_length=200)
    variant_label = models.CharField(max_length=200, blank=True)
    # unit_price and line_total as the catalogue priced them (including tax or not, as the
    # order's prices_include_tax says), after any sale; net and tax as charged, at tax_rate (a
    # percentage). list_price is the unit's price before the sale (unit_price when none).
    list_price = models.PositiveBigIntegerField(default=0)
    sale = models.ForeignKey(
        "promotions.Promotion", null=True, blank=True, related_name="+", on_delete=models.PROTECT
    )
    unit_price = models.PositiveBigIntegerField()
    quantity = models.PositiveIntegerField()
    line_total = models.PositiveBigIntegerField()
    net = models.PositiveBigIntegerField(default=0)
    tax = models.PositiveBigIntegerField(default=0)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    discount = models.PositiveBigIntegerField(default=0)  # taken off line_total before tax

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_positive"),
            models.CheckConstraint(
                condition=Q(line_total=models.F("unit_price") * models.F("quantity")),
                name="order_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(list_price__gte=models.F("unit_price")), name="order_line_sale_lowers_price"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"

    def save(self, *args, **kwargs) -> None:
        if not self.list_price:  # not on sale: its list price is its price
            self.list_price = self.unit_price
        super().save(*args, **kwargs)

    @property
    def gross(self) -> int:
        return self.net + self.tax

    @property
    def sale_saving(self) -> int:
        """What the sale took off the line: its list price less its sale price, for every unit."""
        return (self.list_price - self.unit_price) * self.quantity


class OrderTax(models.Model):
    """The order's tax at one rate: the net it was charged on (goods and delivery) and the tax."""

    order = models.ForeignKey(Order, related_name="taxes", on_delete=models.CASCADE)
    rate = models.DecimalField(max_digits=6, decimal_places=3)
    net = models.PositiveBigIntegerField()
    tax = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["rate"]
        constraints = [models.UniqueConstraint(fields=["order", "rate"], name="ordertax_one_per_rate")]

    def __str__(self) -> str:
        return f"{format(self.rate.normalize(), 'f')} % on {self.net}: {self.tax}"

    @property
    def gross(self) -> int:
        return self.net + self.tax


class Payment(models.Model):
    """One attempt to pay for an order: one Stripe PaymentIntent.

    The first is made when the order is placed; a shopper whose card failed gets
    a fresh attempt. The order's current payment is its latest attempt.
    """

    class Status(models.TextChoices):
        REQUIRES_PAYMENT_METHOD = "requires_payment_method"
        REQUIRES_CONFIRMATION = "requires_confirmation"
        REQUIRES_ACTION = "requires_action"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        CANCELED = "canceled"

    order = models.ForeignKey(Order, related_name="payments", on_delete=models.PROTECT)
    attempt = models.PositiveSmallIntegerField(default=1)
    payment_intent_id = models.CharField(max_length=255, unique=True)
    customer_id = models.CharField(max_length=255, blank=True)
    setup_intent_id = models.CharField(max_length=255, blank=True)
    # What we asked Stripe for (the order's total when it was made), in minor units.
    amount = models.PositiveBigIntegerField()
    # What Stripe reports it took, in `currency` (Stripe's, once it succeeded): 0 until then.
    # Refunds and the money an order keeps count this, never `amount`.
    amount_received = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=Status.choices)
    last_error = models.CharField(max_length=300, blank=True)
    # When the server first asked Stripe to charge a card for this PaymentIntent.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "-attempt"]
        constraints = [
            models.UniqueConstraint(fields=["order", "attempt"], name="payment_attempt_unique"),
        ]

    def __str__(self) -> str:
        return self.payment_intent_id


class Refund(models.Model):
    """Money given back on a payment, in full or in part, as Stripe recorded it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    order = models.ForeignKey(Order, related_name="refunds", on_delete=models.PROTECT)
    payment = models.ForeignKey(Payment, related_name="refunds", on_delete=models.PROTECT)
    # Empty until Stripe has made the refund: a claim made first stops a double submit.
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    request_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    amount = models.PositiveBigIntegerField()
    tax = models.PositiveBigIntegerField(default=0, help_text="The tax inside the amount.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]
        indexes = [models.Index(fields=["created_at"], name="refund_created")]

    def __str__(self) -> str:
        return self.stripe_refund_id or f"refund {self.pk} (being made)"


class RefundLine(models.Model):
    """Units of an order line a refund gives back, with their gross and the tax inside it."""

    refund = models.ForeignKey(Refund, related_name="lines", on_delete=models.CASCADE)
    order_line = models.ForeignKey(OrderLine, related_name="refund_lines", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    amount = models.PositiveBigIntegerField()
    tax = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="refund_line_positive")]

    def __str__(self) -> str:
        return f"{self.order_line} × {self.quantity} refunded"


class OrderEvent(models.Model):
    """One line of an order's history: what happened, who did it, when."""

    class Kind(models.TextChoices):
        PLACED = "placed"
        STATUS = "status"
        PAYMENT = "payment"
        REFUND = "refund"
        FULFILLED = "fulfilled"
        FLAGGED = "flagged"
        NOTE = "note"

    order = models.ForeignKey(Order, related_name="events", on_delete=models.CASCADE)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}: {self.message}"


class WebhookEvent(models.Model):
    """A verified Stripe event, stored once however often it is delivered."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set while one delivery applies the event, so a concurrent duplicate does not.
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["received_at"], name="webhook_failed", condition=~Q(error="")),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"
