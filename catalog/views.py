"""Storefront catalogue pages. Thin async views: parse, read through selectors, render."""

import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from catalog import selectors
from catalog.forms import ListingForm
from catalog.listings import ListingPage
from catalog.picker import Picked, pick, picker_variants, stock_text
from checkout.services.carts import MAX_LINE_QUANTITY
from shop.context_processors import MAX_QUERY_LENGTH
from shop.http import canonical_url, page_number
from taxes.rules import tax_note


@require_safe
async def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tree = await selectors.category_tree()
    category = tree.by_slug.get(slug)
    if category is None:
        raise Http404("No such category.")
    facets = await selectors.option_facets(tree=tree, category=category)
    form = ListingForm(request.GET)
    filters = form.filters(facets)
    sales = await selectors.running_sales()
    page = await selectors.category_page(
        tree=tree, category=category, filters=filters, number=page_number(request), sales=sales
    )
    shown = await selectors.option_facets_narrowed(
        tree=tree, category=category, facets=facets, filters=filters, sales=sales
    )
    if page is None:
        raise Http404("That page does not exist.")
    context = {
        **_listing(page, form, filters),
        "tree": tree,
        "category": category,
        "breadcrumbs": tree.ancestors(category),
        "facets": [(facet, facet.choices(filters)) for facet in shown],
        "sales_running": bool(sales),
        "canonical_url": canonical_url(request, category.url, page.number),
        "meta_description": (category.description or f"Shop {category.name}.")[:160],
    }
    return render(request, "catalog/category_detail.html", context)


def _listing(page: ListingPage | None, form: ListingForm, filters) -> dict[str, object]:
    """Return what every product listing shows: the filter form and the page of products (none yet)."""
    context: dict[str, object] = {
        "form": form,
        "filters": filters,
        "products": [],
        "total": 0,
        "grid_seconds": settings.CATALOG_LISTING_CACHE_SECONDS,
    }
    if page is not None:
        context.update(page=page, products=page.cards, total=page.total, num_pages=page.num_pages)
    return context


@require_safe
async def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tree = await selectors.category_tree()
    sales = await selectors.running_sales()
    product = await selectors.product_detail(tree=tree, slug=slug, sales=sales)
    if product is None:
        raise Http404("No such product.")
    category = tree.by_id[product.category_id]
    chosen_variant_id, quantity = _chosen(request, product)
    picked = _picked(request, product)
    return render(
        request,
        "catalog/product_detail.html",
        {
            "tree": tree,
            "sales_running": bool(sales),
            "product": product,
            **_picker_context(product, picked),
            "chosen_variant_id": picked.variant.id if picked and picked.variant else chosen_variant_id,
            "quantity": quantity,
            "max_quantity": MAX_LINE_QUANTITY,
            "category": category,
            "breadcrumbs": [*tree.ancestors(category), category],
            "canonical_url": canonical_url(request, product.url),
            "meta_description": " ".join(product.description.split())[:160],
            "delivery": await selectors.delivery_promise(),
            "tax_note": tax_note(),
        },
    )


def _picked(request: HttpRequest, product: selectors.ProductDetail) -> Picked | None:
    """Return the picker's choice from the query (None when the variants are listed one by one)."""
    if not product.axes:
        return None
    variant = request.GET.get("variant", "")
    return pick(
        product, request.GET, variant_id=int(variant) if re.fullmatch(r"[0-9]{1,19}", variant) else None
    )


def _picker_context(product: selectors.ProductDetail, picked: Picked | None) -> dict[str, object]:
    """Return what the page shows of the choice: the picker, its variants for the script, the
    chosen variant's stock and the pictures, the chosen colour's first."""
    buyable, text = stock_text(picked.variant) if picked else (False, "")
    return {
        "picked": picked,
        "picker_variants": picker_variants(product) if picked else [],
        "picked_buyable": buyable,
        "picked_stock": text,
        "images": _gallery(product, picked),
    }


def _gallery(product: selectors.ProductDetail, picked: Picked | None) -> list[tuple[str, str, str, str]]:
    """Return (url, alt, colour, srcset) for each image, those of the chosen colour first."""
    count = len(product.image_urls)
    colours, srcsets = product.image_colours or ("",) * count, product.image_srcsets or ("",) * count
    images = [
        (url, alt, colour, srcset)
        for (url, alt), colour, srcset in zip(product.image_urls, colours, srcsets, strict=True)
    ]
    chosen = set(picked.chosen.values()) if picked else set()
    return sorted(images, key=lambda image: image[2] not in chosen)


def _chosen(request: HttpRequest, product: selectors.ProductDetail) -> tuple[int | None, int]:
    """Return the variant (one of the product's, in stock) and quantity named in the query string.

    Sent back here when adding to the cart was refused, so the page keeps the shopper's choice.
    """
    variant, quantity = request.GET.get("variant", ""), request.GET.get("quantity", "")
    in_stock = {choice.id for choice in product.variants if choice.is_in_stock}
    if len(product.variants) == 1 and in_stock:
        chosen_id: int | None = product.variants[0].id
    else:
        chosen_id = int(variant) if re.fullmatch(r"[0-9]{1,19}", variant) else None
    if chosen_id not in in_stock:
        chosen_id = None
    if re.fullmatch(r"[0-9]{1,3}", quantity) and 1 <= int(quantity) <= MAX_LINE_QUANTITY:
        return chosen_id, int(quantity)
    return chosen_id, 1


@require_safe
async def sale(request: HttpRequest) -> HttpResponse:
    """Everything on sale now, across the categories, with the listing's sort and filters."""
    tree = await selectors.category_tree()
    form = ListingForm(request.GET)
    filters = form.filters()
    sales = await selectors.running_sales()
    page = await selectors.sale_page(tree=tree, filters=filters, number=page_number(request), sales=sales)
    if page is None:
        raise Http404("That page does not exist.")
    context = {
        **_listing(page, form, filters),
        "tree": tree,
        "sales": sales.running,
        "sales_running": bool(sales),
        "on_sale_page": True,
        "canonical_url": canonical_url(request, "/sale/", page.number),
        "meta_description": "Everything on sale now.",
    }
    return render(request, "catalog/sale.html", context)


@require_safe
async def search(request: HttpRequest) -> HttpResponse:
    tree = await selectors.category_tree()
    typed = " ".join(request.GET.get("q", "").replace("\x00", "").split())
    query = typed[:MAX_QUERY_LENGTH]
    form = ListingForm(request.GET, allow_relevance=True)
    filters = form.filters()
    page = None
    sales = await selectors.running_sales()
    if query:
        number = page_number(request)
        page = await selectors.search_page(
            tree=tree, query=query, filters=filters, number=number, sales=sales
        )
        if page is None:
            raise Http404("That page does not exist.")
    context = {
        **_listing(page, form, filters),
        "tree": tree,
        "query": query,
        "query_was_truncated": len(typed) > MAX_QUERY_LENGTH,
        "suggestions": [],
        "sales_running": bool(sales),
    }
    if not context["products"]:
        context["suggestions"] = await selectors.featured_products(tree=tree, sales=sales, limit=4)
    return render(request, "catalog/search.html", context)


@require_safe
async def home(request: HttpRequest) -> HttpResponse:
    tree = await selectors.category_tree()
    sales = await selectors.running_sales()
    featured = await selectors.featured_products(tree=tree, sales=sales)
    newest = await selectors.newest_products(tree=tree, sales=sales)
    return render(
        request,
        "catalog/home.html",
        {
            "tree": tree,
            "sales_running": bool(sales),
            "featured": featured,
            "newest": newest,
            "canonical_url": request.build_absolute_uri("/"),
            "delivery": await selectors.delivery_promise(),
        },
    )
