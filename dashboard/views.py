"""The staff dashboard: async views for staff only, over selectors and services."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import AsyncPaginator, InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import aget_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.roles import sections_for
from checkout import webhooks
from checkout.models import Order, WebhookEvent
from checkout.services.orders import aorder_flag_resolve
from checkout.services.staff import aorder_fulfil, astaff_cancel, astaff_refund
from dashboard import selectors
from dashboard.forms import CancelForm, FulfilForm, OrderFilterForm, RefundForm, StockAdjustForm
from inventory import selectors as stock_selectors
from inventory.models import Stock
from inventory.stock import astock_adjust
from shop.exceptions import ShopError
from shop.http import login_redirect
from shop.money import format_money, to_minor_units

View = Callable[..., Awaitable[HttpResponse]]


def staff_required(section: str | None = None) -> Callable[[View], View]:
    """Let staff in whose roles open `section` (any staff for the overview); send others to sign
    in, or refuse them with 403. The sections a person may open are left on the request
    (`request.staff_sections`) for the pages to show only those."""

    def decorate(view: View) -> View:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not request.user.is_authenticated:
                return login_redirect(request)
            if not request.user.is_staff:
                raise PermissionDenied("The dashboard is for staff.")
            user = request.user
            permissions = set() if user.is_superuser else await sync_to_async(user.get_all_permissions)()
            request.staff_sections = sections_for(permissions, is_superuser=user.is_superuser)
            if section and not request.staff_sections[section]:
                raise PermissionDenied(f"Your role does not include {SECTION_NAMES[section]}.")
            return await view(request, *args, **kwargs)

        return wrapper

    return decorate


SECTION_NAMES = {
    "catalogue": "the catalogue",
    "orders": "orders and refunds",
    "stock": "the catalogue and its stock",
    "promotions": "promotions",
    "settings": "the shop's settings",
}


async def _apage(request: HttpRequest, paginator: AsyncPaginator):
    """Return the requested page; 404 for a page number that is not a number or out of range."""
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or len(raw) > 7:
        raise Http404("No such page.")
    try:
        return await paginator.apage(int(raw))
    except InvalidPage as error:
        raise Http404("No such page.") from error


def _errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@require_safe
@staff_required()
async def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    awaiting, awaiting_count = await selectors.orders_awaiting_fulfilment()
    out_of_stock, out_of_stock_count = await selectors.out_of_stock()
    points = await selectors.daily_sales(now=now)
    chart = selectors.chart_layout(points)
    return render(
        request,
        "dashboard/home.html",
        {
            "section": "home",
            "figures": await selectors.sales_figures(now=now, points=points),
            "chart_svg": selectors.chart_svg(chart, currency=settings.SHOP_CURRENCY),
            "points": points,
            "awaiting": awaiting,
            "awaiting_count": awaiting_count,
            "flagged": await selectors.flagged_orders(),
            "low_stock": await selectors.low_stock(),
            "out_of_stock": out_of_stock,
            "out_of_stock_count": out_of_stock_count,
            "events": await selectors.recent_webhook_events(),
            "refused_type": webhooks.REFUSED_TYPE,
            "currency": settings.SHOP_CURRENCY,
        },
    )


@require_safe
@staff_required("orders")
async def order_list(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET)
    filters = form.filters()
    paginator = AsyncPaginator(selectors.order_search(filters), 50)
    page = await _apage(request, paginator)
    orders = await page.aget_object_list()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/order_list.html",
        {
            "section": "orders",
            "form": form,
            "orders": orders,
            "page": page,
            "total": await paginator.acount(),
            "num_pages": await paginator.anum_pages(),
            "query": query.urlencode(),
        },
    )


@require_safe
@staff_required("orders")
async def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = await selectors.order_for_staff(number=number)
    if order is None:
        raise Http404("No such order.")
    refunded = sum(
        refund.amount for refund in order.refunds.all() if refund.status in ("pending", "succeeded")
    )
    # What Stripe took, which may differ from what was asked: only that can be given back.
    paid = sum(payment.amount_received for payment in order.payments.all() if payment.status == "succeeded")
    return render(
        request,
        "dashboard/order_detail.html",
        {
            "section": "orders",
            "order": order,
            "lines": list(order.lines.all()),
            "payments": sorted(order.payments.all(), key=lambda p: p.attempt),
            "refunds": list(order.refunds.all()),
            "events": list(order.events.all()),
            "refundable": max(paid - refunded, 0),
            "fulfil_form": FulfilForm(),
            "refund_form": RefundForm(initial={"request_key": secrets.token_urlsafe(16)}),
            "cancel_form": CancelForm(),
        },
    )


def _back_to(order: Order | str) -> HttpResponseRedirect:
    number = order if isinstance(order, str) else order.number
    return HttpResponseRedirect(reverse("dashboard:order-detail", kwargs={"number": number}))


class ActionPartlyDone(ShopError):
    """A staff action that did part of its work before failing; its message says which part."""


async def _order_action(
    request: HttpRequest, number: str, form_class, act, *, attempt, unchanged: str = "Nothing was changed."
) -> HttpResponse:
    """Validate a staff action's form, carry it out with `act(order, data)`, and show the outcome.

    `act` returns the success message. A refused action (ShopError) is told as what was
    tried (`attempt(order, data)`), why it failed, and `unchanged`: what it left as it was.
    """
    order = await aget_object_or_404(Order, number=number)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return _back_to(order)
    try:
        message = await act(order, form.cleaned_data)
    except ActionPartlyDone as error:
        messages.error(request, error.staff_message)
    except ShopError as error:
        tried = attempt(order, form.cleaned_data)
        messages.error(request, f"{tried} failed: {error.staff_message} {unchanged}")
    else:
        messages.success(request, message)
    return _back_to(order)


@require_POST
@staff_required("orders")
async def order_fulfil(request: HttpRequest, number: str) -> HttpResponse:
    async def fulfil(order: Order, data: dict) -> str:
        await aorder_fulfil(
            order_id=order.pk,
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
            actor_id=request.user.pk,
        )
        return f"Order {order.number} marked shipped; the customer is being e-mailed."

    tried = f"Marking order {number} shipped"
    return await _order_action(request, number, FulfilForm, fulfil, attempt=lambda order, data: tried)


@require_POST
@staff_required("orders")
async def order_refund(request: HttpRequest, number: str) -> HttpResponse:
    async def refund(order: Order, data: dict) -> str:
        made = await astaff_refund(
            order=order,
            amount=None if data["lines"] else to_minor_units(data["amount"], order.currency),
            lines=data["lines"] or None,
            reason=data["reason"],
            request_key=data["request_key"],
            actor_id=request.user.pk,
        )
        amount, tax = (format_money(value, made.currency) for value in (made.amount, made.tax))
        return f"Refunded {amount} (of which VAT {tax}) on order {order.number}."

    def attempt(order: Order, data: dict) -> str:
        if data["lines"]:
            return f"The refund of the lines chosen on order {number}"
        amount = format_money(to_minor_units(data["amount"], order.currency), order.currency)
        return f"The refund of {amount} on order {number}"

    return await _order_action(
        request, number, RefundForm, refund, attempt=attempt, unchanged="Nothing was refunded."
    )


@require_POST
@staff_required("orders")
async def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    async def cancel(order: Order, data: dict) -> str:
        was_canceled = order.status == Order.Status.CANCELED
        try:
            await astaff_cancel(order=order, reason=data["reason"], actor_id=request.user.pk)
        except ShopError as error:
            canceled = Order.objects.filter(pk=order.pk, status=Order.Status.CANCELED)
            if not was_canceled and await canceled.aexists():
                # A paid order is canceled first and refunded after; the service flagged it.
                raise ActionPartlyDone(
                    staff_message=f"Order {order.number} was canceled, but its refund failed: "
                    f"{error.staff_message} The order is flagged: refund it by hand in Stripe."
                ) from error
            raise
        return f"Order {order.number} canceled; anything paid was refunded and the stock put back."

    tried = f"Canceling order {number}"
    return await _order_action(request, number, CancelForm, cancel, attempt=lambda order, data: tried)


@require_POST
@staff_required("orders")
async def order_resolve_flag(request: HttpRequest, number: str) -> HttpResponse:
    order = await aget_object_or_404(Order, number=number)
    if await aorder_flag_resolve(order_id=order.pk, actor_id=request.user.pk):
        messages.success(request, "Flag resolved.")
    else:
        messages.info(request, f"Order {order.number} has no flag to resolve.")
    return _back_to(order)


@require_safe
@staff_required("stock")
async def stock_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100].replace("\x00", "")
    level = request.GET.get("level", "")
    paginator = AsyncPaginator(stock_selectors.stock_search(query=query, level=level), 50)
    page = await _apage(request, paginator)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "dashboard/stock.html",
        {
            "section": "stock",
            "rows": await page.aget_object_list(),
            "page": page,
            "num_pages": await paginator.anum_pages(),
            "query": query,
            "level": level,
            "params": params.urlencode(),
            "adjustments": await selectors.recent_adjustments(),
        },
    )


@require_POST
@staff_required("stock")
async def stock_adjust(request: HttpRequest, variant_id: int) -> HttpResponse:
    form = StockAdjustForm(request.POST)
    target = str(request.POST.get("next", ""))
    back = HttpResponseRedirect(
        target if target.startswith("/dashboard/stock/") else reverse("dashboard:stock")
    )
    if not form.is_valid():
        messages.error(request, _errors(form))
        return back
    if not await Stock.objects.filter(variant_id=variant_id).aexists():
        raise Http404("No such SKU.")
    try:
        adjustment = await astock_adjust(
            variant_id=variant_id,
            on_hand=form.cleaned_data["on_hand"],
            reason=form.cleaned_data["reason"],
            user_id=request.user.pk,
        )
    except ShopError as error:
        messages.error(request, f"Changing the stock on hand failed: {error.staff_message} Nothing changed.")
    else:
        messages.success(
            request, f"On hand changed from {adjustment.on_hand_before} to {adjustment.on_hand_after}."
        )
    return back


@require_POST
@staff_required("orders")
async def webhook_replay(request: HttpRequest, pk: int) -> HttpResponse:
    event = await aget_object_or_404(WebhookEvent, pk=pk)
    try:
        outcome = await webhooks.aevent_apply(event, force=True)
    except ShopError as error:
        messages.error(
            request,
            f"Replaying {event.type} {event.stripe_event_id} failed again: {error.staff_message} "
            "The event stays marked failed.",
        )
    else:
        messages.success(request, f"{event.type} {event.stripe_event_id}: {outcome}")
    return HttpResponseRedirect(reverse("dashboard:home") + "#events")
