"""E-mails to shoppers about their orders, each sent once through the persistent task queue
(`manage.py db_worker` runs it)."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from checkout.receipts import receipt_read

logger = logging.getLogger(__name__)


def _send_order_email(order_id: int, *, sent_field: str, subject: str, template: str) -> None:
    """E-mail the shopper about their order (HTML and text) once, marking `sent_field` when sent."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .prefetch_related("lines", "taxes", "refunds", "discounts")
            .filter(pk=order_id)
            .first()
        )
        if order is None or getattr(order, sent_field) is not None:
            return
        context = {
            "order": order,
            "lines": list(order.lines.all()),
            "receipt": receipt_read(order=order),
            "shop_name": settings.SHOP_NAME,
            "order_url": settings.SHOP_URL + order.get_absolute_url(),
            "receipt_url": settings.SHOP_URL + reverse("checkout:order-receipt", args=[order.public_token]),
        }
        message = EmailMultiAlternatives(
            subject=subject.format(shop=settings.SHOP_NAME, number=order.number),
            body=render_to_string(f"{template}.txt", context),
            to=[order.email],
        )
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
        message.send()
        setattr(order, sent_field, timezone.now())
        order.save(update_fields=[sent_field, "updated_at"])
    logger.info("order e-mail sent: %s", template.rsplit("/", 1)[-1], extra={"order": order.number})


@task()
def send_order_confirmation(order_id: int) -> None:
    """E-mail the shopper that their order is paid. Sends at most once."""
    _send_order_email(
        order_id,
        sent_field="confirmation_sent_at",
        subject="Your {shop} order {number} is confirmed",
        template="checkout/email/order_confirmation",
    )


@task()
def send_shipping_notice(order_id: int) -> None:
    """E-mail the shopper that their order has shipped, with the tracking number. Sends at most once."""
    if not Order.objects.filter(pk=order_id).exclude(tracking_number="").exists():
        return
    _send_order_email(
        order_id,
        sent_field="shipping_notice_sent_at",
        subject="Your {shop} order {number} is on its way",
        template="checkout/email/shipping_notice",
    )
