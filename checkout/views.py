"""Cart, checkout, payment and order pages: thin async views over services and selectors."""

from __future__ import annotations

import json
import logging
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from checkout import selectors, webhooks
from checkout.addresses import aaddress_remember
from checkout.clients import arelease_database_connection
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    CartError,
    InventoryRefused,
    InventoryUnavailable,
    OutOfStock,
    PaymentDeclined,
    PaymentGatewayUnavailable,
    PaymentRejected,
    UnknownItems,
)
from checkout.forms import CartAddForm, CartLineForm, CheckoutForm, checkout_initial
from checkout.models import Order, Payment
from checkout.services.carts import MAX_LINE_QUANTITY, acart_for_request, acart_line_add, acart_line_set
from checkout.services.payment_outcomes import apayment_intent_apply
from checkout.services.payments import (
    OrderNotPayable,
    PaymentFormOutOfDate,
    PaymentInProgress,
    StockHoldLost,
    apayment_pay,
    apayment_setup,
)
from checkout.services.placement import CartEmpty, ShippingAddress, aorder_place, aorder_placement_resume
from shop import ratelimit
from shop.exceptions import ShopError
from shop.http import login_redirect, safe_next_url
from shop.money import format_money

logger = logging.getLogger(__name__)

CART_COUNT_COOKIE = "cart_count"


def _with_cart_count(response: HttpResponse, summary: selectors.CartSummary) -> HttpResponse:
    """Remember the item count in a cookie, so every page's header can show it without a query."""
    response.set_cookie(
        CART_COUNT_COOKIE,
        str(summary.item_count),
        max_age=60 * 60 * 24 * 30,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def _form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


# Cart --------------------------------------------------------------------------


@require_safe
async def cart_detail(request: HttpRequest) -> HttpResponse:
    cart = await acart_for_request(request, create=False)
    summary = await selectors.cart_summary(cart=cart)
    response = render(
        request,
        "checkout/cart.html",
        {"cart": summary, "max_quantity": MAX_LINE_QUANTITY, "cart_count": summary.item_count},
    )
    return _with_cart_count(response, summary)


@require_POST
async def cart_add(request: HttpRequest) -> HttpResponse:
    form = CartAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return HttpResponseRedirect(_back_with_choice(request, form))
    cart = await acart_for_request(request, create=True)
    try:
        quantity = await acart_line_add(
            cart_id=cart.pk, variant_id=form.cleaned_data["variant"], quantity=form.cleaned_data["quantity"]
        )
    except CartError as error:
        messages.error(request, error.user_message)
        return HttpResponseRedirect(_back_with_choice(request, form))
    messages.success(request, f"Added to your cart (you now have {quantity}).")
    summary = await selectors.cart_summary(cart=cart)
    return _with_cart_count(HttpResponseRedirect(reverse("checkout:cart")), summary)


def _back_with_choice(request: HttpRequest, form: CartAddForm) -> str:
    """Return the page the item was added from, naming the variant and quantity chosen so it keeps them."""
    target = safe_next_url(request, reverse("checkout:cart"))
    # An invalid form keeps only the fields that were valid.
    valid = form.cleaned_data
    choice = {name: str(valid[name]) for name in ("variant", "quantity") if name in valid}
    if "variant" not in choice or target == reverse("checkout:cart"):
        return target
    parts = urlsplit(target)
    kept = [(name, value) for name, value in parse_qsl(parts.query) if name not in choice]
    return urlunsplit(parts._replace(query=urlencode([*kept, *choice.items()])))


@require_POST
async def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if "remove" in request.POST:
        form = CartLineForm({"variant": request.POST.get("variant"), "quantity": 0})
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return HttpResponseRedirect(reverse("checkout:cart"))
    cart = await acart_for_request(request, create=False)
    if cart is None:
        messages.error(request, "Your cart has expired. Please add the items again.")
        return HttpResponseRedirect(reverse("checkout:cart"))
    try:
        await acart_line_set(
            cart_id=cart.pk, variant_id=form.cleaned_data["variant"], quantity=form.cleaned_data["quantity"]
        )
    except CartError as error:
        messages.error(request, error.user_message)
    else:
        messages.success(
            request, "Removed from your cart." if form.cleaned_data["quantity"] == 0 else "Cart updated."
        )
    summary = await selectors.cart_summary(cart=cart)
    return _with_cart_count(HttpResponseRedirect(reverse("checkout:cart")), summary)


# Checkout ------------------------------------------------------------------------


def _out_of_stock_message(error: OutOfStock, summary: selectors.CartSummary) -> str:
    titles = {line.sku: line.title for line in summary.lines}
    parts = []
    for line in error.lines:
        title = titles.get(line.sku, line.sku)
        if line.available <= 0:
            parts.append(f"{title} has just sold out")
        else:
            parts.append(f"only {line.available} of {title} left (you asked for {line.requested})")
    detail = "; ".join(parts) or "some items ran out"
    return f"Sorry — {detail}. Nothing was charged; please update your cart and try again."


@require_http_methods(["GET", "HEAD", "POST"])
async def checkout(request: HttpRequest) -> HttpResponse:
    cart = await acart_for_request(request, create=False)
    summary = await selectors.cart_summary(cart=cart)
    methods = await selectors.shipping_methods()
    status = 200
    retry_after = None
    form = CheckoutForm(request.POST, methods=methods) if request.method == "POST" else None
    # An empty cart has nothing to check out, unless the form repeats a placed order's (a double submit).
    if summary.is_empty and not (form is not None and form.is_valid()):
        messages.info(request, "Your cart is empty.")
        return _with_cart_count(HttpResponseRedirect(reverse("checkout:cart")), summary)
    if form is not None:
        if form.is_valid():
            try:
                await ratelimit.arate_limit_hit(
                    action="place-order",
                    clients=[ratelimit.client_ip(request)],
                    rate=settings.RATE_LIMIT_PLACE_ORDER,
                    attempts="orders placed from your connection",
                )
            except ratelimit.RateLimited as error:
                messages.error(request, error.user_message)
                response, retry_after = None, error.retry_after
            else:
                response = await _place_order(request, form, cart, summary)
            if response is not None:
                return response
            cart = await acart_for_request(request, create=False)
            summary = await selectors.cart_summary(cart=cart)
            kept = {name: value for name, value in form.cleaned_data.items() if name != "quote"}
            form = CheckoutForm(initial={**kept, "cart_version": summary.version}, methods=methods)
            status = 409 if retry_after is None else 429
        else:
            status = 400
    # Read only when the page is shown: a successful order never needs them.
    rates = await selectors.tax_rates()
    addresses = await selectors.saved_addresses(user=request.user)
    if request.method != "POST":
        form = CheckoutForm(
            initial={
                **checkout_initial(
                    user=request.user, addresses=addresses, chosen_id=request.GET.get("address", "")
                ),
                "cart_version": summary.version,
            },
            methods=methods,
        )
    response = _checkout_page(request, form, summary, methods, rates, addresses, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _checkout_page(request, form, summary, methods, rates, addresses, *, status: int) -> HttpResponse:
    """Render the checkout page with the totals for the chosen delivery, and the prices it shows."""
    chosen_code = form.data.get("shipping_method") if form.is_bound else form.initial.get("shipping_method")
    method = next((m for m in methods if m.code == chosen_code), methods[0] if methods else None)
    country = (form.data.get("country") if form.is_bound else form.initial.get("country")) or "GB"
    totals = selectors.checkout_totals(summary=summary, method=method, rates=rates, country=country)
    return render(
        request,
        "checkout/checkout.html",
        {
            "form": form,
            "cart": summary,
            "totals": totals,
            "quote": selectors.checkout_quote(summary=summary, methods=methods, rates=rates).sign(),
            "methods": methods,
            "addresses": addresses,
            "chosen_address_id": request.GET.get("address", ""),
            "cart_count": summary.item_count,
            "problems": summary.problems,
        },
        status=status,
    )


async def _place_order(request, form, cart, summary) -> HttpResponse | None:
    """Place the order. Return where to go next, or None to show the form again with a message."""
    data = form.cleaned_data
    if cart is None:
        messages.error(request, "Your cart has expired. Please add the items again.")
        return HttpResponseRedirect(reverse("checkout:cart"))
    address = form.shipping_address()
    try:
        order, _created = await aorder_place(
            cart_id=cart.pk,
            cart_version=data["cart_version"],
            user_id=request.user.pk if request.user.is_authenticated else None,
            email=data["email"],
            address=address,
            shipping_method_code=data["shipping_method"],
            seen_prices=data["quote"],
        )
    except OutOfStock as error:
        messages.error(request, _out_of_stock_message(error, summary))
        return _with_cart_count(HttpResponseRedirect(reverse("checkout:cart")), summary)
    except UnknownItems as error:
        messages.error(
            request, f"{error.user_message} Nothing was charged; please remove them and try again."
        )
        return HttpResponseRedirect(reverse("checkout:cart"))
    except InventoryRefused as error:
        # Final: the same cart would be refused again, so back to the cart to change it.
        messages.error(request, error.user_message)
        return HttpResponseRedirect(reverse("checkout:cart"))
    except (InventoryUnavailable, PaymentGatewayUnavailable, PaymentRejected) as error:
        messages.error(request, error.user_message)
        return None
    except CartEmpty:
        messages.info(request, "Your cart is empty.")
        return HttpResponseRedirect(reverse("checkout:cart"))
    except CartError as error:
        messages.error(request, error.user_message)
        return None
    except DatabaseError:
        # Nothing is charged before the payment page; the cart is kept, and a retry of the
        # same cart takes up any order this attempt made. The page needs no database.
        logger.exception("order placement lost the database")
        return HttpResponse(loader.render_to_string("checkout/placement_interrupted.html"), status=503)
    if order.status == Order.Status.CANCELED:
        messages.error(request, f"This order could not be placed ({order.cancel_reason}). Please try again.")
        return None
    if data["save_address"] and request.user.is_authenticated:
        await _address_save(request, order, address)
    response = HttpResponseRedirect(reverse("checkout:order-pay", kwargs={"token": order.public_token}))
    response.set_cookie(CART_COUNT_COOKIE, "0", samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return response


async def _address_save(request, order: Order, address: ShippingAddress) -> None:
    """Save the order's address to the shopper's account, as they asked; never stand in the way of paying."""
    try:
        if (await aaddress_remember(user_id=request.user.pk, address=address))[1]:
            messages.success(request, "Address saved to your account for next time.")
    except DatabaseError:
        logger.exception("could not save a checkout address", extra={"order": order.number})
        messages.warning(request, "We couldn't save your address this time; your order is not affected.")


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
                    return _json_error("Please sign in to pay for this order.", 403)
                return login_redirect(request)
            return await view(request, order)

        return wrapper

    return decorate


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
            "payment": selectors.current_payment(order),
            "order_url": request.build_absolute_uri(order.get_absolute_url()),
            "is_owner": bool(order.user_id) and request.user.pk == order.user_id,
        },
    )


@require_safe
@order_view()
async def order_pay(request: HttpRequest, order: Order) -> HttpResponse:
    if order.status != Order.Status.PENDING_PAYMENT:
        return HttpResponseRedirect(order.get_absolute_url())
    payment = selectors.current_payment(order)
    if payment is None:
        try:
            await aorder_placement_resume(order=order)
        except ShopError as error:
            messages.error(request, error.user_message)
        resumed = await Payment.objects.filter(order=order).aexists()
        return (
            HttpResponseRedirect(request.path)
            if resumed
            else render(
                request,
                "checkout/pay.html",
                {"order": order, "lines": list(order.lines.all()), "payment": None},
            )
        )
    return render(
        request,
        "checkout/pay.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "payment": payment,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "is_test_mode": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test"),
            "amount": format_money(order.total, order.currency),
        },
    )


PAYMENT_UNCONFIRMED = (
    "We couldn't confirm your payment with our provider just now. Please wait a minute, then reload "
    "this page: it will show whether the payment went through before you try again."
)


def _json_error(message: str, status: int, **extra: object) -> JsonResponse:
    return JsonResponse({"status": "error", "message": message, **extra}, status=status)


@require_POST
@order_view(answers_json=True)
async def order_pay_setup(request: HttpRequest, order: Order) -> JsonResponse:
    try:
        client_secret = await apayment_setup(order=order)
    except OrderNotPayable as error:
        return _json_error(error.user_message, 409, redirect=order.get_absolute_url())
    except (PaymentGatewayUnavailable, PaymentRejected) as error:
        return _json_error(error.user_message, 503)
    return JsonResponse({"status": "ok", "client_secret": client_secret})


@require_POST
@order_view(answers_json=True)
async def order_pay_confirm(request: HttpRequest, order: Order) -> JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return _json_error("The request was not valid JSON.", 400)
    setup_intent_id = body.get("setup_intent") if isinstance(body, dict) else None
    if not isinstance(setup_intent_id, str) or not 1 <= len(setup_intent_id) <= 255:
        return _json_error("The request did not say which card to use.", 400)
    return_url = reverse("checkout:order-return", kwargs={"token": order.public_token})
    try:
        intent = await apayment_pay(order=order, setup_intent_id=setup_intent_id)
    except PaymentDeclined as error:
        return JsonResponse({"status": "declined", "message": error.user_message}, status=402)
    except OrderNotPayable as error:
        return _json_error(error.user_message, 409, redirect=order.get_absolute_url())
    except (PaymentFormOutOfDate, PaymentInProgress) as error:
        return _json_error(error.user_message, 409)
    except StockHoldLost as error:
        return _json_error(error.user_message, 409, redirect=order.get_absolute_url())
    except PaymentGatewayUnavailable:
        # The charge may or may not have gone through: never claim it did not.
        return _json_error(PAYMENT_UNCONFIRMED, 503)
    except DatabaseError:
        # The same: the card may have been charged before our records could be written.
        logger.exception("payment confirmation lost the database", extra={"order": order.number})
        return _json_error(PAYMENT_UNCONFIRMED, 503)
    except PaymentRejected as error:
        return _json_error(error.user_message, 503)
    if intent.status == "requires_action":
        return JsonResponse(
            {"status": "requires_action", "client_secret": intent.client_secret, "return_url": return_url}
        )
    return JsonResponse({"status": intent.status, "return_url": return_url})


@require_safe
@order_view()
async def order_return(request: HttpRequest, order: Order) -> HttpResponse:
    """Where the browser lands after paying: read the PaymentIntent back and show the result now."""
    payment = selectors.current_payment(order)
    if payment is None:
        return HttpResponseRedirect(order.get_absolute_url())
    await arelease_database_connection()
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
async def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Receive a Stripe event: 400 unless it is signed and well-formed, 2xx once it is stored."""
    if request.method != "POST":
        response = JsonResponse({"error": "method_not_allowed", "detail": "Use POST."}, status=405)
        response["Allow"] = "POST"
        return response
    declared = request.headers.get("Content-Length", "0")
    if (declared.isdigit() and int(declared) > settings.STRIPE_WEBHOOK_MAX_BYTES) or len(
        request.body
    ) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        return JsonResponse({"error": "too_large", "detail": "The body is too large."}, status=413)
    try:
        event = webhooks.event_verify(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except webhooks.InvalidEvent as error:
        logger.warning("webhook refused: %s", error.code)
        if error.is_signed:
            await webhooks.arefusal_record(payload=request.body, error=error)
        return JsonResponse({"error": error.code, "detail": error.user_message}, status=400)
    stored = await webhooks.aevent_store(event)
    try:
        outcome = await webhooks.aevent_apply(stored)
    except ShopError:
        # Stored with its error; Stripe retries later, and operators can replay it.
        return JsonResponse({"status": "retry_later", "event": stored.stripe_event_id}, status=503)
    return JsonResponse({"status": "ok", "event": stored.stripe_event_id, "outcome": outcome})
