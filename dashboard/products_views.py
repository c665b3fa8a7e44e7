"""Staff pages for the catalogue: the products, and one product's editor (its fields and its
variants as a table, prices typed as money, stock per variant), for catalogue editors."""

from __future__ import annotations

from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import AsyncPaginator, InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from catalog.editing import aproduct_save, aproducts_bulk, avariants_generate
from catalog.editor_forms import BulkForm, ProductForm, VariantRows
from catalog.images import aimage_delete, aimage_update, aimages_add
from catalog.models import OptionValue, Product, ProductEvent, ProductImage, Variant
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
        "bulk": BulkForm(),
        "now": timezone.now(),
    }
    return await arender(request, "dashboard/product_list.html", context)  # the bulk form lists categories


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
    labels = {row["id"]: row["label"] for row in rows}
    context = {
        "section": "catalogue",
        "title": title,
        "product": product,
        "form": form,
        "table": table,
        "rows": [(row, labels.get(row.initial.get("id") or _posted_id(row), "")) for row in table.forms],
        **await _editor_extras(product),
    }
    return await arender(request, "dashboard/product_form.html", context, status=400 if bound else 200)


async def _editor_extras(product: Product) -> dict[str, list]:
    """Return the product's history, its pictures and the colours a picture can be tied to."""
    if product.pk is None:
        return {"events": [], "pictures": [], "colours": []}
    events = ProductEvent.objects.filter(product_id=product.pk).select_related("actor")[:20]
    pictures = (
        ProductImage.objects.filter(product_id=product.pk).select_related("colour").order_by("position", "id")
    )
    colours = OptionValue.objects.filter(axis__product_type_id=product.product_type_id, axis__is_colour=True)
    return {
        "events": [event async for event in events],
        "pictures": [image async for image in pictures],
        "colours": [value async for value in colours.order_by("axis__position", "position")],
    }


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


def _edit_url(product_id: int, anchor: str = "pictures") -> str:
    return reverse("dashboard:product-edit", kwargs={"pk": product_id}) + f"#{anchor}"


@require_POST
@staff_required("catalogue")
async def images_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the pictures sent (dropped on the editor or picked), each checked by its content."""
    product = await _product_or_404(pk)
    uploads = request.FILES.getlist("images")
    if not uploads:
        messages.error(request, "Choose one or more pictures to add.")
        return HttpResponseRedirect(_edit_url(product.pk))
    try:
        made = await aimages_add(product_id=product.pk, uploads=uploads, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages) + " No picture was added.")
    else:
        messages.success(request, f"{len(made)} picture{'s' if len(made) != 1 else ''} added.")
    return HttpResponseRedirect(_edit_url(product.pk))


@require_POST
@staff_required("catalogue")
async def image_change(request: HttpRequest, pk: int, image_id: int) -> HttpResponse:
    product = await _product_or_404(pk)
    if "delete" in request.POST:
        try:
            await aimage_delete(image_id=image_id, product_id=product.pk, actor=request.user)
        except ProductImage.DoesNotExist as error:
            raise Http404("No such picture.") from error
        messages.success(request, "Picture removed.")
        return HttpResponseRedirect(_edit_url(product.pk))
    colour, position = request.POST.get("colour", ""), request.POST.get("position", "0")
    if (colour and not colour.isdigit()) or not position.isdigit() or int(position) > 10_000:
        messages.error(request, "Choose a colour from the list and give the place as a whole number.")
        return HttpResponseRedirect(_edit_url(product.pk))
    try:
        await aimage_update(
            image_id=image_id,
            product_id=product.pk,
            alt_text=request.POST.get("alt_text", ""),
            colour_id=int(colour) if colour else None,
            position=int(position),
            actor=request.user,
        )
    except ProductImage.DoesNotExist as error:
        raise Http404("No such picture.") from error
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Picture saved.")
    return HttpResponseRedirect(_edit_url(product.pk))


@require_POST
@staff_required("catalogue")
async def products_bulk(request: HttpRequest) -> HttpResponse:
    """One bulk edit of the products ticked in the list, all of it or none."""
    form = BulkForm(request.POST)
    back = reverse("dashboard:products") + (
        f"?q={quote(request.POST.get('q', '')[:100])}" if request.POST.get("q") else ""
    )
    if not await sync_to_async(form.is_valid)():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return HttpResponseRedirect(back)
    try:
        count = await aproducts_bulk(
            action=form.cleaned_data["action"],
            product_ids=form.cleaned_data["products"],
            value=form.value(),
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{count} product{'s' if count != 1 else ''} changed.")
    return HttpResponseRedirect(back)
