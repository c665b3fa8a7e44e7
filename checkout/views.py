"""Cart, checkout, payment and order pages: thin async views over services and selectors."""

from __future__ import annotations

import logging
from dataclasses import asdict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.services import address_remember
from checkout import selectors
from checkout.exceptions import (
    CartEmpty,
    CartError,
    CartExpired,
    OrderNotPlaced,
    OutOfStock,
)
from checkout.forms import CartAddForm, CartLineForm, CheckoutForm, checkout_initial
from checkout.models import Order
from checkout.services.carts import MAX_LINE_QUANTITY, acart_for_request, acart_line_add, acart_line_set
from checkout.services.placement import ShippingAddress, aorder_place
from shop import ratelimit
from shop.errors import error_message, shop_errors, with_error_headers
from shop.exceptions import InvalidInput, ShopError
from shop.http import safe_next_url

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
        if (await sync_to_async(address_remember)(user_id=request.user.pk, **asdict(address)))[1]:
            messages.success(request, "Address saved to your account for next time.")
    except DatabaseError:
        logger.exception("could not save a checkout address", extra={"order": order.number})
        messages.warning(request, "We couldn't save your address this time; your order is not affected.")
