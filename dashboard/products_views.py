"""Staff pages for the catalogue: the products, and one product's editor (its fields and its
variants as a table, prices typed as money, stock per variant), for catalogue editors."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import AsyncPaginator, InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from catalog.editing import aproduct_save, avariants_generate
from catalog.editor_forms import ProductForm, VariantRows
from catalog.models import Product, ProductEvent, Variant
from dashboard.views import staff_required

form_methods = require_http_methods(["GET", "HEAD", "POST"])
arender = sync_to_async(render)  # the forms read categories, types and tax classes as they render
PER_PAGE = 50


async def _product_or_404(pk: int) -> Product:
    product = await Product.objects.filter(pk=pk).afirst()
    if product is None:
        raise Http404("No such product.")
    return product


@require_safe
@staff_required("catalogue")
async def product_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    products = Product.objects.select_related("category").order_by("title", "id")
    if query:
        products = products.filter(title__icontains=query) | products.filter(variants__sku__iexact=query)
    raw = request.GET.get("page", "1")
    try:
        page = await AsyncPaginator(products.distinct(), PER_PAGE).apage(int(raw) if raw.isdigit() else 0)
    except InvalidPage as error:
        raise Http404("No such page.") from error
    context = {
        "section": "catalogue",
        "page": page,
        "products": await page.aget_object_list(),
        "query": query,
    }
    return render(request, "dashboard/product_list.html", context)


async def _rows_initial(product: Product) -> list[dict]:
    rows = []
    async for variant in (
        Variant.objects.filter(product=product).select_related("stock").order_by("position", "id")
    ):
        stock = getattr(variant, "stock", None)
        rows.append(
            {
                "id": variant.pk,
                "sku": variant.sku,
                "price": variant.price,
                "compare_at_price": variant.compare_at_price,
                "weight_grams": variant.weight_grams,
                "barcode": variant.barcode,
                "on_hand": stock.on_hand if stock else 0,
                "is_active": variant.is_active,
                "label": variant.label,
            }
        )
    return rows


async def _editor(request: HttpRequest, product: Product, *, title: str) -> HttpResponse:
    """Show the editor; on a POST, save the product and its variants, or show them again (400)."""
    rows = await _rows_initial(product) if product.pk else []
    bound = request.POST if request.method == "POST" else None
    form = await sync_to_async(ProductForm)(bound, instance=product)
    # A new product has no variants yet: the table shows once it is saved.
    table = VariantRows(bound if product.pk else None, initial=rows, prefix="variants")
    valid = bound is not None and await sync_to_async(form.is_valid)()
    if valid and (not product.pk or await sync_to_async(table.is_valid)()):
        try:
            saved = await aproduct_save(
                product=form.instance,
                seen=form.cleaned_data["seen"],
                rows=table.cleaned_data if product.pk else [],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{saved.title} saved.")
            return HttpResponseRedirect(reverse("dashboard:product-edit", kwargs={"pk": saved.pk}))
    events = [
        event
        async for event in ProductEvent.objects.filter(product_id=product.pk).select_related("actor")[:20]
    ]
    labels = {row["id"]: row["label"] for row in rows}
    context = {
        "section": "catalogue",
        "title": title,
        "product": product,
        "form": form,
        "table": table,
        "rows": [(row, labels.get(row.initial.get("id") or _posted_id(row), "")) for row in table.forms],
        "events": events,
    }
    return await arender(request, "dashboard/product_form.html", context, status=400 if bound else 200)


def _posted_id(row) -> int | None:
    raw = row.data.get(f"{row.prefix}-id", "") if row.is_bound else ""
    return int(raw) if str(raw).isdigit() else None


@form_methods
@staff_required("catalogue")
async def product_add(request: HttpRequest) -> HttpResponse:
    return await _editor(request, Product(is_active=False), title="Add a product")


@form_methods
@staff_required("catalogue")
async def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = await _product_or_404(pk)
    return await _editor(request, product, title=f"Edit {product.title}")


@require_POST
@staff_required("catalogue")
async def variants_generate(request: HttpRequest, pk: int) -> HttpResponse:
    product = await _product_or_404(pk)
    try:
        made = await avariants_generate(product_id=product.pk, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"{made} variants made, not yet sold: switch on those you sell."
            if made
            else "Every combination already has a variant.",
        )
    return HttpResponseRedirect(reverse("dashboard:product-edit", kwargs={"pk": product.pk}) + "#variants")
