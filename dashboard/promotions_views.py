"""Staff pages for promotions: the list with each one's figures, a promotion's settings, its codes
(added one by one or in single-use batches, exported as CSV), pausing and its history.
Staff only, like the rest of the dashboard."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import AsyncPaginator, InvalidPage
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dashboard import promotions_selectors as selectors
from dashboard.views import staff_required
from promotions.forms import CodeBatchForm, DiscountCodeForm, PromotionForm
from promotions.models import DiscountCode, Promotion
from promotions.staff import (
    SALE_HAS_NO_CODES,
    acode_add,
    acode_delete,
    acodes_generate,
    apromotion_pause,
    apromotion_resume,
    apromotion_save,
)

form_methods = require_http_methods(["GET", "HEAD", "POST"])
# The promotion form lists products and categories from the database as it renders.
arender = sync_to_async(render)
CODES_PER_PAGE = 100
EXPORT_CHUNK = 2000


def _detail_url(promotion_id: int, anchor: str = "") -> str:
    url = reverse("dashboard:promotion-detail", kwargs={"pk": promotion_id})
    return url + (f"#{anchor}" if anchor else "")


async def _promotion_or_404(pk: int) -> Promotion:
    promotion = await Promotion.objects.filter(pk=pk).afirst()
    if promotion is None:
        raise Http404("No such promotion.")
    return promotion


async def _codes_page(request: HttpRequest, promotion_id: int):
    """Return the requested page of codes; 404 for a page number that is not one."""
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or len(raw) > 7:
        raise Http404("No such page.")
    try:
        return await AsyncPaginator(selectors.promotion_codes(promotion_id), CODES_PER_PAGE).apage(int(raw))
    except InvalidPage as error:
        raise Http404("No such page.") from error


async def _detail(request: HttpRequest, promotion: Promotion, *, status: int = 200, **forms) -> HttpResponse:
    """Show the promotion's page; a refused form comes back bound, with its errors (status 400)."""
    row = await selectors.promotion_row(promotion.pk)
    if row is None:  # deleted since it was read
        raise Http404("No such promotion.")
    page = await _codes_page(request, promotion.pk)
    products, categories = await selectors.promotion_covered(promotion)
    context = {
        "section": "promotions",
        "row": row,
        "products": products,
        "categories": categories,
        "codes": await page.aget_object_list(),
        "page": page,
        "num_pages": await page.paginator.anum_pages(),
        "events": await selectors.promotion_events(promotion.pk),
        "code_form": forms.get("code_form") or DiscountCodeForm(),
        "batch_form": forms.get("batch_form") or CodeBatchForm(),
        "errors": forms.get("errors", []),
    }
    return render(request, "dashboard/promotion_detail.html", context, status=status)


@require_safe
@staff_required("promotions")
async def promotion_list(request: HttpRequest) -> HttpResponse:
    rows = await selectors.promotion_rows()
    return render(request, "dashboard/promotion_list.html", {"section": "promotions", "rows": rows})


@require_safe
@staff_required("promotions")
async def promotion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return await _detail(request, await _promotion_or_404(pk))


async def _form_page(request: HttpRequest, promotion: Promotion, *, title: str) -> HttpResponse:
    """Show the promotion's form; on a POST, check and save it, or show it again (400)."""
    # Built in a thread: an existing promotion's form reads its products and categories.
    form = await sync_to_async(PromotionForm)(
        request.POST if request.method == "POST" else None, instance=promotion
    )
    if form.is_bound and await sync_to_async(form.is_valid)():
        try:
            saved = await apromotion_save(
                promotion=form.instance,
                products=form.cleaned_data["products"],
                categories=form.cleaned_data["categories"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Promotion {saved.name} saved.")
            return HttpResponseRedirect(_detail_url(saved.pk))
    context = {"section": "promotions", "form": form, "title": title, "promotion": promotion}
    return await arender(
        request, "dashboard/promotion_form.html", context, status=400 if form.is_bound else 200
    )


@form_methods
@staff_required("promotions")
async def promotion_add(request: HttpRequest) -> HttpResponse:
    return await _form_page(request, Promotion(is_active=True), title="Add a promotion")


@form_methods
@staff_required("promotions")
async def promotion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = await _promotion_or_404(pk)
    return await _form_page(request, promotion, title=f"Edit {promotion.name}")


@require_POST
@staff_required("promotions")
async def promotion_active(request: HttpRequest, pk: int) -> HttpResponse:
    switch = {"1": apromotion_resume, "0": apromotion_pause}.get(str(request.POST.get("is_active", "")))
    promotion = await _promotion_or_404(pk)
    if switch is None:
        errors = ["Say whether to resume the promotion (1) or pause it (0)."]
        return await _detail(request, promotion, status=400, errors=errors)
    try:
        promotion = await switch(promotion_id=pk, actor=request.user)
    except ObjectDoesNotExist as error:
        raise Http404("No such promotion.") from error
    if promotion.is_sale:
        state = (
            "resumed: its sale prices are shown"
            if promotion.is_active
            else "paused: prices are back to normal"
        )
    else:
        state = "resumed: its codes are accepted" if promotion.is_active else "paused: its codes are refused"
    messages.success(request, f"Promotion {promotion.name} is {state}.")
    return HttpResponseRedirect(_detail_url(promotion.pk))


async def _code_action(request: HttpRequest, pk: int, form: BaseForm, act, *, name: str) -> HttpResponse:
    """Check a code form posted from the promotion's page and carry it out with `act`, which
    returns the message to show; a refused one shows the page again with the form's errors (400)."""
    promotion = await _promotion_or_404(pk)
    if promotion.is_sale:  # its page shows no code forms: the reason goes above them
        return await _detail(request, promotion, status=400, errors=[SALE_HAS_NO_CODES])
    if await sync_to_async(form.is_valid)():
        try:
            message = await act(promotion, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, message)
            return HttpResponseRedirect(_detail_url(promotion.pk, "codes"))
    return await _detail(request, promotion, status=400, **{name: form})


@require_POST
@staff_required("promotions")
async def code_add(request: HttpRequest, pk: int) -> HttpResponse:
    async def add(promotion: Promotion, data: dict) -> str:
        code = await acode_add(
            promotion=promotion, code=data["code"], usage_limit=data["usage_limit"], actor=request.user
        )
        return f"Code {code.code} added to {promotion.name}."

    form = DiscountCodeForm(request.POST, instance=DiscountCode())
    return await _code_action(request, pk, form, add, name="code_form")


@require_POST
@staff_required("promotions")
async def codes_generate(request: HttpRequest, pk: int) -> HttpResponse:
    async def generate(promotion: Promotion, data: dict) -> str:
        made = await acodes_generate(
            promotion=promotion, prefix=data["prefix"], count=data["count"], actor=request.user
        )
        return f"{len(made):,} single-use codes made for {promotion.name}."

    return await _code_action(request, pk, CodeBatchForm(request.POST), generate, name="batch_form")


@require_POST
@staff_required("promotions")
async def code_delete(request: HttpRequest, pk: int) -> HttpResponse:
    code = await DiscountCode.objects.filter(pk=pk).afirst()
    if code is None:
        raise Http404("No such code.")
    promotion = await _promotion_or_404(code.promotion_id)
    try:
        await acode_delete(code_id=pk, actor=request.user)
    except ObjectDoesNotExist as error:
        raise Http404("No such code.") from error
    except ValidationError as error:
        return await _detail(request, promotion, status=400, errors=error.messages)
    messages.success(request, f"Code {code.code} deleted.")
    return HttpResponseRedirect(_detail_url(promotion.pk, "codes"))


def _csv_safe(code: str) -> str:
    """Keep a spreadsheet from reading a code as a formula (the forms let none start so)."""
    return f"'{code}" if code.startswith(("=", "+", "-", "@")) else code


async def _csv_rows(promotion_id: int) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "usage_limit", "uses"])
    async for rows in selectors.code_rows(promotion_id, chunk=EXPORT_CHUNK):
        writer.writerows(
            (_csv_safe(code), "" if limit is None else limit, uses) for code, limit, uses in rows
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
    yield buffer.getvalue()


@require_safe
@staff_required("promotions")
async def codes_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Stream the promotion's codes as CSV (code, usage_limit, uses), a chunk at a time."""
    promotion = await _promotion_or_404(pk)
    response = StreamingHttpResponse(_csv_rows(promotion.pk), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="promotion-{promotion.pk}-codes.csv"'
    return response
