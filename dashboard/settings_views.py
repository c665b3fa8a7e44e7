"""Staff pages for tax and delivery: tax classes and their rates per country, delivery zones,
their methods and the methods' price bands. Staff only, like the rest of the dashboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dashboard import settings_selectors as selectors
from dashboard.views import staff_required
from shipping.forms import MethodForm, ZoneForm, band_formset_class
from shipping.models import ShippingMethod, ShippingZone
from shipping.services import amethod_active_set, amethod_save, azone_active_set, azone_save
from taxes.forms import TaxClassForm, TaxRateForm, country_name, rate_text
from taxes.models import TaxRate
from taxes.services import atax_class_create, atax_rate_delete, atax_rate_save

# Saved: the message to show and where to go next.
Save = Callable[[BaseForm], Awaitable[tuple[str, str]]]
form_methods = require_http_methods(["GET", "HEAD", "POST"])
# The forms read their choices (tax classes, a method's bands) from the database as they render.
arender = sync_to_async(render)
BAND_ROWS_TO_ADD = 3


def _overview_url(anchor: str = "") -> str:
    return reverse("dashboard:tax-delivery") + (f"#{anchor}" if anchor else "")


def _bound(request: HttpRequest):
    return request.POST if request.method == "POST" else None


async def _overview(request: HttpRequest, *, errors: list[str] | None = None) -> HttpResponse:
    zones = await selectors.zone_rows()
    context = {
        "section": "settings",
        "table": await selectors.tax_table(),
        "zones": zones,
        "warnings": [row.warning for row in zones if row.warning],
        "errors": errors or [],
    }
    return render(request, "dashboard/tax_delivery.html", context, status=400 if errors else 200)


@require_safe
@staff_required("settings")
async def overview(request: HttpRequest) -> HttpResponse:
    return await _overview(request)


async def _form_page(
    request: HttpRequest, form: BaseForm, save: Save, *, title: str, **extra
) -> HttpResponse:
    """Show `form`; on a POST, check it, `save` it and go where `save` says, or show it again (400)."""
    if form.is_bound and await sync_to_async(form.is_valid)():
        try:
            message, target = await save(form)
        except ValidationError as error:  # e.g. taken by someone else since the form was checked
            form.add_error(None, error)
        else:
            messages.success(request, message)
            return HttpResponseRedirect(target)
    template = extra.pop("template", "dashboard/settings_form.html")
    context = {"section": "settings", "form": form, "title": title, **extra}
    return await arender(request, template, context, status=400 if form.is_bound else 200)


# Tax -------------------------------------------------------------------------------------------


async def _tax_rate_page(request: HttpRequest, rate: TaxRate, *, title: str) -> HttpResponse:
    chosen = {name: request.GET[name] for name in ("tax_class", "country") if name in request.GET}
    form = TaxRateForm(_bound(request), instance=rate, initial=chosen if rate.pk is None else None)

    async def save(form: TaxRateForm) -> tuple[str, str]:
        saved = await atax_rate_save(rate=form.instance)
        text = f"{saved.tax_class.name} in {country_name(saved.country)} is now {rate_text(saved.rate)} %."
        return text, _overview_url("tax")

    return await _form_page(request, form, save, title=title, rate=rate)


@form_methods
@staff_required("settings")
async def tax_rate_add(request: HttpRequest) -> HttpResponse:
    return await _tax_rate_page(request, TaxRate(), title="Add a tax rate")


@form_methods
@staff_required("settings")
async def tax_rate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rate = await TaxRate.objects.select_related("tax_class").filter(pk=pk).afirst()
    if rate is None:
        raise Http404("No such tax rate.")
    title = f"{rate.tax_class.name} in {country_name(rate.country)}"
    return await _tax_rate_page(request, rate, title=title)


@require_POST
@staff_required("settings")
async def tax_rate_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rate = await TaxRate.objects.select_related("tax_class").filter(pk=pk).afirst()
    if rate is None or not await atax_rate_delete(rate_id=pk):
        raise Http404("No such tax rate.")
    where = f"{rate.tax_class.name} in {country_name(rate.country)}"
    messages.success(request, f"The rate for {where} is deleted: no tax is charged on it there.")
    return HttpResponseRedirect(_overview_url("tax"))


@form_methods
@staff_required("settings")
async def tax_class_add(request: HttpRequest) -> HttpResponse:
    async def save(form: TaxClassForm) -> tuple[str, str]:
        saved = await atax_class_create(tax_class=form.instance)
        return f"Tax class {saved.name} added: give it a rate in each country.", _overview_url("tax")

    form = TaxClassForm(_bound(request))
    return await _form_page(request, form, save, title="Add a tax class")


# Delivery --------------------------------------------------------------------------------------


async def _zone_page(request: HttpRequest, zone: ShippingZone, *, title: str) -> HttpResponse:
    async def save(form: ZoneForm) -> tuple[str, str]:
        saved = await azone_save(zone=form.instance)
        return f"Zone {saved.name} saved.", reverse("dashboard:zone-edit", kwargs={"pk": saved.pk})

    row = None if zone.pk is None else await selectors.zone_for_edit(zone.pk)
    form = ZoneForm(_bound(request), instance=zone)
    return await _form_page(
        request, form, save, title=title, zone_row=row, template="dashboard/zone_form.html"
    )


@form_methods
@staff_required("settings")
async def zone_add(request: HttpRequest) -> HttpResponse:
    return await _zone_page(request, ShippingZone(is_active=True), title="Add a delivery zone")


async def _zone_or_404(pk: int) -> ShippingZone:
    zone = await ShippingZone.objects.filter(pk=pk).afirst()
    if zone is None:
        raise Http404("No such delivery zone.")
    return zone


@form_methods
@staff_required("settings")
async def zone_edit(request: HttpRequest, pk: int) -> HttpResponse:
    zone = await _zone_or_404(pk)
    return await _zone_page(request, zone, title=f"Zone {zone.name}")


def _switch(request: HttpRequest) -> bool | None:
    """Return the on/off asked for (is_active "1" or "0"), None for anything else."""
    return {"1": True, "0": False}.get(str(request.POST.get("is_active", "")))


@require_POST
@staff_required("settings")
async def zone_active(request: HttpRequest, pk: int) -> HttpResponse:
    is_active = _switch(request)
    if is_active is None:
        return await _overview(request, errors=["Say whether to switch the zone on (1) or off (0)."])
    try:
        zone = await azone_active_set(zone_id=pk, is_active=is_active)
    except ObjectDoesNotExist as error:
        raise Http404("No such delivery zone.") from error
    except ValidationError as error:
        return await _overview(request, errors=["The zone was not switched on.", *error.messages])
    messages.success(request, f"Zone {zone.name} is {'on' if zone.is_active else 'off'}.")
    return HttpResponseRedirect(_overview_url(f"zone-{zone.pk}"))


async def _method_page(request: HttpRequest, method: ShippingMethod, *, title: str) -> HttpResponse:
    form = MethodForm(_bound(request), instance=method)

    def check():
        # The method's form comes first: the bands are read in its basis (amounts or grams).
        valid = form.is_bound and form.is_valid()
        first = [{"lower": 0}] if method.pk is None else None
        bands = band_formset_class(BAND_ROWS_TO_ADD)(
            _bound(request), instance=method, prefix="bands", initial=first
        )
        return bands, valid and bands.is_valid()

    bands, valid = await sync_to_async(check)()

    async def save(form: MethodForm) -> tuple[str, str]:
        if not valid:
            raise ValidationError("Correct the price bands below.")
        saved = await amethod_save(method=form.instance, bands=bands.bands())
        return f"{saved.name} in zone {method.zone.name} saved.", _overview_url(f"zone-{method.zone_id}")

    context = {
        "bands": bands,
        "zone": method.zone,
        "method": method,
        "template": "dashboard/method_form.html",
    }
    return await _form_page(request, form, save, title=title, **context)


@form_methods
@staff_required("settings")
async def method_add(request: HttpRequest, pk: int) -> HttpResponse:
    zone = await _zone_or_404(pk)
    method = ShippingMethod(zone=zone)
    return await _method_page(request, method, title=f"Add a delivery method to zone {zone.name}")


@form_methods
@staff_required("settings")
async def method_edit(request: HttpRequest, pk: int) -> HttpResponse:
    method = await ShippingMethod.objects.select_related("zone").filter(pk=pk).afirst()
    if method is None:
        raise Http404("No such delivery method.")
    return await _method_page(request, method, title=f"{method.name} in zone {method.zone.name}")


@require_POST
@staff_required("settings")
async def method_active(request: HttpRequest, pk: int) -> HttpResponse:
    is_active = _switch(request)
    if is_active is None:
        return await _overview(request, errors=["Say whether to switch the method on (1) or off (0)."])
    try:
        method = await amethod_active_set(method_id=pk, is_active=is_active)
    except ObjectDoesNotExist as error:
        raise Http404("No such delivery method.") from error
    state = "offered to shoppers" if method.is_active else "no longer offered"
    messages.success(request, f"{method.name} in zone {method.zone.name} is {state}.")
    return HttpResponseRedirect(_overview_url(f"zone-{method.zone_id}"))
