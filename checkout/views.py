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
from checkout.clients import stripe as stripe_api
from checkout.exceptions import (
    CartEmpty,
    CartError,
    CartExpired,
    OrderNotPlaced,
    OutOfStock,
    PaymentGatewayUnavailable,
    PaymentUnconfirmed,
    SignInRequired,
)
from checkout.forms import CartAddForm, CartLineForm, CheckoutForm, checkout_initial
from checkout.models import Order, Payment
from checkout.services.carts import MAX_LINE_QUANTITY, acart_for_request, acart_line_add, acart_line_set
from checkout.services.payment_outcomes import apayment_intent_apply
from checkout.services.payments import apayment_pay, apayment_setup
from checkout.services.placement import ShippingAddress, aorder_place, aorder_placement_resume
from shop import ratelimit
from shop.errors import error_message, shop_errors, with_error_headers
from shop.exceptions import InvalidInput, MethodNotAllowed, ShopError
from shop.http import body_size_check, login_redirect, safe_next_url
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
@shop_errors(redirect_to="checkout:cart")
async def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if "remove" in request.POST:
        form = CartLineForm({"variant": request.POST.get("variant"), "quantity": 0})
    if not form.is_valid():
        raise InvalidInput(_form_errors(form))
    cart = await acart_for_request(request, create=False)
    if cart is None:
        raise CartExpired()
    await acart_line_set(
        cart_id=cart.pk, variant_id=form.cleaned_data["variant"], quantity=form.cleaned_data["quantity"]
    )
    messages.success(
        request, "Removed from your cart." if form.cleaned_data["quantity"] == 0 else "Cart updated."
    )
    summary = await selectors.cart_summary(cart=cart)
    return _with_cart_count(HttpResponseRedirect(reverse("checkout:cart")), summary)


# Checkout ------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@shop_errors(redirect_to="checkout:cart")
async def checkout(request: HttpRequest) -> HttpResponse:
    cart = await acart_for_request(request, create=False)
    summary = await selectors.cart_summary(cart=cart)
    methods = await selectors.shipping_methods()
    form = CheckoutForm(request.POST, methods=methods) if request.method == "POST" else None
    is_placing = form is not None and form.is_valid()
    # An empty cart has nothing to check out, unless the form repeats a placed order's (a double submit).
    if summary.is_empty and not is_placing:
        raise CartEmpty()
    if form is None or not is_placing:
        return await _checkout_page(request, form, summary, methods)
    try:
        return await _place_order(request, form, cart, summary)
    except ShopError as error:
        if error.redirect_to:
            raise
        return await _checkout_again(request, error, form, methods)


async def _checkout_again(request, error: ShopError, form: CheckoutForm, methods) -> HttpResponse:
    """Show the form again after a refused order: the message, the cart as it is now and what
    the shopper typed."""
    error_message(request, error)
    summary = await selectors.cart_summary(cart=await acart_for_request(request, create=False))
    kept = {name: value for name, value in form.cleaned_data.items() if name != "quote"}
    form = CheckoutForm(initial={**kept, "cart_version": summary.version}, methods=methods)
    # The cart or its stock changed under the shopper (409), unless they were too quick (429).
    status = 429 if isinstance(error, ratelimit.RateLimited) else 409
    return with_error_headers(await _checkout_page(request, form, summary, methods, status=status), error)


async def _checkout_page(request, form, summary, methods, *, status: int | None = None) -> HttpResponse:
    """Render the checkout page (a blank form for `form` None), 400 for a form with errors.
    Rates and addresses are read only here: a placed order never needs them."""
    rates = await selectors.tax_rates()
    addresses = await selectors.saved_addresses(user=request.user)
    chosen_address_id = request.GET.get("address", "")
    if form is None:
        initial = checkout_initial(user=request.user, addresses=addresses, chosen_id=chosen_address_id)
        form = CheckoutForm(initial={**initial, "cart_version": summary.version}, methods=methods)
    context = {
        **_checkout_prices(form, summary, methods, rates),
        "form": form,
        "cart": summary,
        "methods": methods,
        "addresses": addresses,
        "chosen_address_id": chosen_address_id,
        "cart_count": summary.item_count,
        "problems": summary.problems,
    }
    status = status or (400 if form.is_bound else 200)
    return render(request, "checkout/checkout.html", context, status=status)


def _checkout_prices(form: CheckoutForm, summary, methods, rates) -> dict:
    """Return the totals for the delivery and country chosen in the form, and the signed prices shown."""
    values = form.data if form.is_bound else form.initial
    chosen = values.get("shipping_method")
    method = next((m for m in methods if m.code == chosen), methods[0] if methods else None)
    country = values.get("country") or "GB"
    return {
        "totals": selectors.checkout_totals(summary=summary, method=method, rates=rates, country=country),
        "quote": selectors.checkout_quote(summary=summary, methods=methods, rates=rates).sign(),
    }


async def _place_order(request, form: CheckoutForm, cart, summary) -> HttpResponse:
    """Place the order and go to its payment page; raise ShopError when it cannot be placed."""
    await ratelimit.arate_limit_hit(
        action="place-order",
        clients=[ratelimit.client_ip(request)],
        rate=settings.RATE_LIMIT_PLACE_ORDER,
        attempts="orders placed from your connection",
    )
    if cart is None:
        raise CartExpired()
    try:
        order = await _order_place(request, form, cart, summary)
    except DatabaseError:
        # Nothing is charged before the payment page; the cart is kept, and a retry of the
        # same cart takes up any order this attempt made. The page needs no database.
        logger.exception("order placement lost the database")
        return HttpResponse(loader.render_to_string("checkout/placement_interrupted.html"), status=503)
    if form.cleaned_data["save_address"] and request.user.is_authenticated:
        await _address_save(request, order, form.shipping_address())
    response = HttpResponseRedirect(reverse("checkout:order-pay", kwargs={"token": order.public_token}))
    response.set_cookie(CART_COUNT_COOKIE, "0", samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return response


async def _order_place(request, form: CheckoutForm, cart, summary) -> Order:
    """Return the order placed from the form; raise OrderNotPlaced when it was canceled at once."""
    data = form.cleaned_data
    try:
        order, _created = await aorder_place(
            cart_id=cart.pk,
            cart_version=data["cart_version"],
            user_id=request.user.pk if request.user.is_authenticated else None,
            email=data["email"],
            address=form.shipping_address(),
            shipping_method_code=data["shipping_method"],
            seen_prices=data["quote"],
        )
    except OutOfStock as error:
        error.user_message = error.describe({line.sku: line.title for line in summary.lines})
        raise
    if order.status == Order.Status.CANCELED:
        raise OrderNotPlaced(reason=order.cancel_reason)
    return order


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
            "payment": selectors.current_payment(order),
            "order_url": request.build_absolute_uri(order.get_absolute_url()),
            "is_owner": bool(order.user_id) and request.user.pk == order.user_id,
        },
    )


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
