"""Cart, checkout, payment and order pages: thin async views over services and selectors."""

from __future__ import annotations

import logging
from dataclasses import asdict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_countries import countries

from accounts.services import address_remember
from checkout import selectors
from checkout.code_views import customer_of
from checkout.exceptions import (
    CartEmpty,
    CartError,
    CartExpired,
    OrderNotPlaced,
    OutOfStock,
)
from checkout.forms import CartAddForm, CartLineForm, CheckoutForm, checkout_initial
from checkout.models import Order
from checkout.services.carts import (
    MAX_LINE_QUANTITY,
    acart_for_request,
    acart_line_add,
    acart_line_set,
)
from checkout.services.placement import ShippingAddress, aorder_place
from promotions.services import acodes_accepted
from shipping.selectors import ahome_delivery_promise, aserved_countries
from shop import ratelimit
from shop.errors import error_message, shop_errors, with_error_headers
from shop.exceptions import InvalidInput, ShopError
from shop.http import safe_next_url
from taxes.rules import tax_note

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


def _code_rows(summary: selectors.CartSummary, discounts) -> list[tuple[str, str]]:
    """Return (code, why it does not apply, "" when it does) for each code in the cart, in order."""
    return [(code, discounts.problem(code)) for code in summary.discount_codes]


def _form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


# Cart --------------------------------------------------------------------------


@require_safe
async def cart_detail(request: HttpRequest) -> HttpResponse:
    cart = await acart_for_request(request, create=False)
    summary = await selectors.cart_summary(cart=cart)
    delivery = await ahome_delivery_promise()
    discounts = await selectors.cart_discounts(summary=summary, customer=customer_of(request))
    goods_after = summary.basket_after(discounts).value
    context = {
        "codes_accepted": bool(summary.discount_codes) or await acodes_accepted(),
        "discounts": discounts,
        "code_rows": _code_rows(summary, discounts),
        "cart": summary,
        "max_quantity": MAX_LINE_QUANTITY,
        "cart_count": summary.item_count,
        "delivery": delivery,
        "goods_after_discount": goods_after,
        # Free delivery is judged on the goods after the codes, as the checkout judges it; a
        # free-delivery code needs no more spending.
        "short_of_free": None if discounts.free_delivery else delivery.short_of_free(goods_after),
        "tax_note": tax_note(),
        "prices_include_tax": settings.PRICES_INCLUDE_TAX,
        "tax_name": settings.TAX_NAME,
    }
    response = render(request, "checkout/cart.html", context)
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
    page = await _CheckoutPage.make(request, summary)
    if request.method != "POST":
        await page.priced()
    form = page.form()
    is_placing = form.is_bound and form.is_valid()
    # An empty cart has nothing to check out, unless the form repeats a placed order's (a double submit).
    if summary.is_empty and not is_placing:
        raise CartEmpty()
    if not is_placing:
        return await page.render(form)
    try:
        return await _place_order(request, form, cart, summary)
    except ShopError as error:
        if error.redirect_to:
            raise
        return await _checkout_again(request, error, form)


@require_safe
@shop_errors(redirect_to="checkout:cart")
async def checkout_totals(request: HttpRequest) -> HttpResponse:
    """The delivery options and totals for the country and method in the query: the checkout page's
    script swaps them in as the shopper changes either, and takes the new signed quote."""
    summary = await selectors.cart_summary(cart=await acart_for_request(request, create=False))
    if summary.is_empty:
        raise CartEmpty()
    page = await (await _CheckoutPage.make(request, summary, values=request.GET)).priced()
    form = page.form(initial=True)
    context = page.context(form)
    return JsonResponse(
        {
            "methods": loader.render_to_string("checkout/_methods.html", context, request),
            "summary": loader.render_to_string("checkout/_summary.html", context, request),
            "quote": context["quote"],
        }
    )


class _CheckoutPage:
    """The checkout page for one request: the served countries, and (read only when the page is
    shown, never for an order that is placed) the saved addresses, the delivery options for the
    country chosen (in the form, the query or the saved address) and the totals with them."""

    def __init__(self, request, summary, *, countries, values, initial_extra) -> None:
        self.request, self.summary, self.countries = request, summary, countries
        self.values, self.initial_extra = values, initial_extra
        self.addresses, self.initial, self.price = [], {}, None
        self.unserved = ""  # the country asked for, when no zone delivers there
        self.code_rows: list[tuple[str, str]] = []  # each code in the cart, and why not if it does not apply
        self.codes_accepted = False  # whether to offer a code field

    @classmethod
    async def make(cls, request, summary, *, values=None, initial_extra=None) -> _CheckoutPage:
        served = await aserved_countries()
        return cls(request, summary, countries=served, values=values, initial_extra=initial_extra or {})

    async def priced(self) -> _CheckoutPage:
        """Read what showing the page needs: the addresses, the starting values and the prices."""
        if self.price is not None:
            return self
        request, summary = self.request, self.summary
        self.addresses = await selectors.saved_addresses(user=request.user)
        initial = checkout_initial(
            user=request.user, addresses=self.addresses, chosen_id=request.GET.get("address", "")
        )
        self.initial = {**initial, **self.initial_extra, "cart_version": summary.version}
        values = self.values
        if values is None:
            values = request.POST if request.method == "POST" else self.initial
        # Only a country some zone serves is priced; anything else is priced for home (or the first
        # served), and the page says so.
        asked = countries.alpha2(values.get("country") or "") or settings.SHOP_COUNTRY
        codes = [code for code, _name in self.countries]
        home = settings.SHOP_COUNTRY if settings.SHOP_COUNTRY in codes or not codes else codes[0]
        country = asked if asked in codes or not codes else home
        self.codes_accepted = bool(summary.discount_codes) or await acodes_accepted()
        discounts = await selectors.cart_discounts(
            summary=summary, customer=customer_of(request, email=str(values.get("email") or ""))
        )
        self.code_rows = _code_rows(summary, discounts)
        self.price = await selectors.checkout_price_for(
            summary=summary, country=country, method_code=values.get("shipping_method"), discounts=discounts
        )
        self.unserved = "" if country == asked else (countries.name(asked) or asked)
        return self

    def form(self, *, initial: bool = False) -> CheckoutForm:
        if self.request.method == "POST" and not initial:
            return CheckoutForm(self.request.POST, methods=[], countries=self.countries)
        price = self.price
        chosen = {"country": price.country, "shipping_method": price.offer.code if price.offer else ""}
        return CheckoutForm(
            initial={**self.initial, **chosen}, methods=list(price.offers), countries=self.countries
        )

    def context(self, form: CheckoutForm) -> dict:
        summary = self.summary
        return {
            "form": form,
            "cart": summary,
            "methods": self.price.offers,
            "chosen_method": self.price.offer.code if self.price.offer else "",
            "country_name": countries.name(self.price.country) or self.price.country,
            "unserved_country": self.unserved,
            "code_rows": self.code_rows,
            "codes_accepted": self.codes_accepted,
            "totals": self.price.totals,
            "summary_lines": _summary_lines(summary, self.price.totals),
            "quote": selectors.checkout_quote(summary=summary, price=self.price).sign(),
            "addresses": self.addresses,
            "chosen_address_id": self.request.GET.get("address", ""),
            "cart_count": summary.item_count,
            "problems": summary.problems,
        }

    async def render(self, form: CheckoutForm, *, status: int | None = None) -> HttpResponse:
        """Render the page, 400 for a form with errors."""
        await self.priced()
        status = status or (400 if form.is_bound else 200)
        return render(self.request, "checkout/checkout.html", self.context(form), status=status)


def _summary_lines(summary, totals) -> list[tuple[str, int, int, int | None]]:
    """Return (title, quantity, amount, was) for each line as the order will charge it before any
    code (listed apart): gross when prices include tax (abroad it may differ from the catalogue's),
    else net; `was` is the line at its catalogue price when a sale lowered it, else None."""
    sold = [line for line in summary.lines if line.is_sold]
    offs = totals.discount_lines or (0,) * len(sold)
    rows = []
    for line, taxed, off in zip(sold, totals.lines, offs, strict=True):
        amount = (taxed.gross if totals.prices_include_tax else taxed.net) + off
        was = line.was_total + amount - line.line_total if line.was_total else None
        rows.append((line.title, line.quantity, amount, was))
    return rows


async def _checkout_again(request, error: ShopError, form: CheckoutForm) -> HttpResponse:
    """Show the form again after a refused order: the message, the cart as it is now, the totals
    for what the shopper chose and what they typed."""
    error_message(request, error)
    summary = await selectors.cart_summary(cart=await acart_for_request(request, create=False))
    kept = {name: value for name, value in form.cleaned_data.items() if name not in ("quote", "cart_version")}
    page = await (await _CheckoutPage.make(request, summary, values=kept, initial_extra=kept)).priced()
    # The cart or its stock changed under the shopper (409), unless they were too quick (429).
    status = 429 if isinstance(error, ratelimit.RateLimited) else 409
    return with_error_headers(await page.render(page.form(initial=True), status=status), error)


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
