"""Admin for checkout data. Orders, payments, refunds and webhook events are read-only here:
money and status change only through the checkout services, which admin actions call."""

from checkout.admin import orders, payments  # noqa: F401 (each registers its pages)
