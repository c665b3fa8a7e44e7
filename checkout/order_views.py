"""Order pages and paying: the order's own page and its VAT receipt (a page to print, a PDF), the
payment page and its two JSON endpoints, the return from Stripe, and Stripe's webhook."""

from __future__ import annotations

import json
import logging
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from checkout import receipts, selectors, webhooks
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    PaymentGatewayUnavailable,
    PaymentUnconfirmed,
    SignInRequired,
)
from checkout.models import Order, Payment
from checkout.receipt_pdf import receipt_pdf
from checkout.services.payment_outcomes import apayment_intent_apply
from checkout.services.payments import apayment_pay, apayment_setup
from checkout.services.placement import aorder_placement_resume
from shop.errors import error_message, shop_errors
from shop.exceptions import InvalidInput, MethodNotAllowed, ShopError
from shop.http import body_size_check, login_redirect
from shop.money import format_money

logger = logging.getLogger(__name__)


# Orders and payment ------------------------------------------------------------------


def order_view(*, answers_json: bool = False):
    """Decorate a view of one order, found by its link's token, and pass it the order.

    Guests' orders open with the unguessable link alone; account orders only for
    their owner (or staff): a visitor who is not signed in is asked to, anyone
    else gets 404.
    """

    def decorate(view):
        @wraps(view)
        async def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            order = await selectors.order_by_token(token=token)
            if order is None:
                raise Http404("No such order.")
            user = request.user
            if order.user_id and not (user.is_authenticated and (user.pk == order.user_id or user.is_staff)):
                if user.is_authenticated:
                    raise Http404("No such order.")
                if answers_json:
                    raise SignInRequired()
                return login_redirect(request)
            return await view(request, order)

        return wrapper

    return decorate


def _order_page(request: HttpRequest, token: str) -> str:
    """Return the order's page, where a payment that cannot go on sends the shopper."""
    return reverse("checkout:order-detail", kwargs={"token": token})


# What the payment page's script reads first: "error" unless the error says otherwise ("declined").
pay_errors = shop_errors(redirect_to=_order_page, json=True, fields={"status": "error"})


@require_safe
@order_view()
async def order_detail(request: HttpRequest, order: Order) -> HttpResponse:
    lines = list(order.lines.all())
    return render(
        request,
        "checkout/order_detail.html",
        {
            "order": order,
            "lines": lines,
            "receipt": receipts.receipt_read(order=order),
            "has_receipt": receipts.receipt_is_available(order),
            "payment": selectors.current_payment(order),
            "order_url": request.build_absolute_uri(order.get_absolute_url()),
            "is_owner": bool(order.user_id) and request.user.pk == order.user_id,
        },
    )


def _receipt_not_ready(request: HttpRequest, order: Order) -> HttpResponse:
    """Send the shopper back to the order's page, saying why there is no receipt (yet)."""
    if order.status == Order.Status.CANCELED:
        messages.info(request, "This order was canceled before it was paid, so it has no VAT receipt.")
    else:
        messages.info(request, "Your VAT receipt will be ready here once your payment has been received.")
    return HttpResponseRedirect(order.get_absolute_url())


@require_safe
@order_view()
async def order_receipt(request: HttpRequest, order: Order) -> HttpResponse:
    """The printable VAT receipt of a paid order."""
    if not receipts.receipt_is_available(order):
        return _receipt_not_ready(request, order)
    return render(
        request, "checkout/receipt.html", {"order": order, "receipt": receipts.receipt_read(order=order)}
    )


@require_safe
@order_view()
async def order_receipt_pdf(request: HttpRequest, order: Order) -> HttpResponse:
    """The VAT receipt of a paid order as a PDF to keep."""
    if not receipts.receipt_is_available(order):
        return _receipt_not_ready(request, order)
    receipt = receipts.receipt_read(order=order)
    content = await sync_to_async(receipt_pdf, thread_sensitive=False)(receipt=receipt)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{order.number}.pdf"'
    return response


@require_safe
@order_view()
async def order_pay(request: HttpRequest, order: Order) -> HttpResponse:
    if not order.is_payable:
        return HttpResponseRedirect(order.get_absolute_url())
    payment = selectors.current_payment(order)
    if payment is None:
        return await _order_pay_resume(request, order)
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "payment": payment,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "is_test_mode": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test"),
        "amount": format_money(order.total, order.currency),
    }
    return render(request, "checkout/pay.html", context)


async def _order_pay_resume(request: HttpRequest, order: Order) -> HttpResponse:
    """Finish setting up an order whose placement was cut short, then show its payment page again."""
    try:
        await aorder_placement_resume(order=order)
    except ShopError as error:
        error_message(request, error)
    if await Payment.objects.filter(order=order).aexists():
        return HttpResponseRedirect(request.path)
    context = {"order": order, "lines": list(order.lines.all()), "payment": None}
    return render(request, "checkout/pay.html", context)


@require_POST
@pay_errors
@order_view(answers_json=True)
async def order_pay_setup(request: HttpRequest, order: Order) -> JsonResponse:
    client_secret = await apayment_setup(order=order)
    return JsonResponse({"status": "ok", "client_secret": client_secret})


@require_POST
@pay_errors
@order_view(answers_json=True)
async def order_pay_confirm(request: HttpRequest, order: Order) -> JsonResponse:
    setup_intent_id = _setup_intent_id(request.body)
    try:
        intent = await apayment_pay(order=order, setup_intent_id=setup_intent_id)
    except PaymentGatewayUnavailable as error:
        # The charge may or may not have gone through: never claim it did not.
        raise PaymentUnconfirmed() from error
    except DatabaseError as error:
        # The same: the card may have been charged before our records could be written.
        logger.exception("payment confirmation lost the database", extra={"order": order.number})
        raise PaymentUnconfirmed() from error
    return_url = reverse("checkout:order-return", kwargs={"token": order.public_token})
    if intent.status == "requires_action":
        return JsonResponse(
            {"status": "requires_action", "client_secret": intent.client_secret, "return_url": return_url}
        )
    return JsonResponse({"status": intent.status, "return_url": return_url})


def _setup_intent_id(body: bytes) -> str:
    """Return the SetupIntent named in the payment page's JSON body; raise InvalidInput."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError) as error:
        raise InvalidInput("The request was not valid JSON.") from error
    setup_intent_id = data.get("setup_intent") if isinstance(data, dict) else None
    if not isinstance(setup_intent_id, str) or not 1 <= len(setup_intent_id) <= 255:
        raise InvalidInput("The request did not say which card to use.")
    return setup_intent_id


@require_safe
@order_view()
async def order_return(request: HttpRequest, order: Order) -> HttpResponse:
    """Where the browser lands after paying: read the PaymentIntent back and show the result now."""
    payment = selectors.current_payment(order)
    if payment is None:
        return HttpResponseRedirect(order.get_absolute_url())
    try:
        intent = await stripe_api.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
    except ShopError:
        messages.warning(
            request,
            "We couldn't confirm your payment with our provider just yet. "
            "This page will show it as soon as it does.",
        )
        return HttpResponseRedirect(order.get_absolute_url())
    order = await apayment_intent_apply(intent=intent) or order
    if intent.status == "succeeded":
        messages.success(
            request, f"Thank you! Your payment was received and order {order.number} is confirmed."
        )
        return HttpResponseRedirect(order.get_absolute_url())
    if intent.status in ("requires_payment_method", "requires_action", "requires_confirmation"):
        if intent.decline_message:
            messages.error(request, stripe_api.decline_text(intent.decline_message))
        else:
            messages.error(request, "The payment was not completed. Please try again or use another card.")
        return HttpResponseRedirect(reverse("checkout:order-pay", kwargs={"token": order.public_token}))
    messages.info(request, "Your payment is being processed. This page will show when it is confirmed.")
    return HttpResponseRedirect(order.get_absolute_url())


# Stripe webhooks ---------------------------------------------------------------------


@csrf_exempt
@shop_errors(json=True)
async def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Receive a Stripe event: 400 unless it is signed and well-formed, 2xx once it is stored."""
    if request.method != "POST":
        raise MethodNotAllowed(["POST"])
    body_size_check(request, limit=settings.STRIPE_WEBHOOK_MAX_BYTES)
    try:
        event = webhooks.event_verify(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except webhooks.InvalidEvent as error:
        logger.warning("webhook refused: %s", error.code)
        if error.is_signed:
            await webhooks.arefusal_record(payload=request.body, error=error)
        raise
    stored = await webhooks.aevent_store(event)
    try:
        outcome = await webhooks.aevent_apply(stored)
    except ShopError:
        # Stored with its error; Stripe retries later, and operators can replay it.
        return JsonResponse({"status": "retry_later", "event": stored.stripe_event_id}, status=503)
    return JsonResponse({"status": "ok", "event": stored.stripe_event_id, "outcome": outcome})
