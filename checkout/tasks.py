"""Background work on the persistent task queue (`manage.py db_worker` runs it)."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone

from checkout.models import Order

logger = logging.getLogger(__name__)


@task()
def send_order_confirmation(order_id: int) -> None:
    """E-mail the shopper that their order is paid (HTML and text). Sends at most once."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.confirmation_sent_at is not None:
            return
        lines = list(order.lines.all())
        context = {"order": order, "lines": lines, "shop_name": settings.SHOP_NAME}
        message = EmailMultiAlternatives(
            subject=f"Your {settings.SHOP_NAME} order {order.number} is confirmed",
            body=render_to_string("checkout/email/order_confirmation.txt", context),
            to=[order.email],
        )
        message.attach_alternative(
            render_to_string("checkout/email/order_confirmation.html", context), "text/html"
        )
        message.send()
        order.confirmation_sent_at = timezone.now()
        order.save(update_fields=["confirmation_sent_at", "updated_at"])
    logger.info("order confirmation sent", extra={"order": order.number})


@task()
def send_shipping_notice(order_id: int) -> None:
    """E-mail the shopper that their order has shipped, with the tracking number. Sends at most once."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.shipping_notice_sent_at is not None or not order.tracking_number:
            return
        context = {"order": order, "lines": list(order.lines.all()), "shop_name": settings.SHOP_NAME}
        message = EmailMultiAlternatives(
            subject=f"Your {settings.SHOP_NAME} order {order.number} is on its way",
            body=render_to_string("checkout/email/shipping_notice.txt", context),
            to=[order.email],
        )
        message.attach_alternative(
            render_to_string("checkout/email/shipping_notice.html", context), "text/html"
        )
        message.send()
        order.shipping_notice_sent_at = timezone.now()
        order.save(update_fields=["shipping_notice_sent_at", "updated_at"])


@task()
async def commit_order_stock(order_id: int, attempt: int) -> None:
    """Retry committing a paid order's stock after the inventory API could not be reached."""
    from checkout.services import aorder_stock_commit

    await aorder_stock_commit(order_id=order_id, attempt=attempt)


@task()
async def release_placement_reservation(order_id: int) -> None:
    """Give back stock a timed-out placement may still have held."""
    from checkout.services import aplacement_reservation_release

    await aplacement_reservation_release(order_id=order_id)
