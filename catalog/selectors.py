"""Reads for the storefront. Every function here is async and returns plain data."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Prefetch, QuerySet

from catalog.categories import CategoryNode, CategoryTree, category_tree_build
from catalog.facets import OptionFacet, facets_narrowed, option_facets_read
from catalog.image_names import srcset
from catalog.listings import (
    ListingFilters,
    ListingPage,
    ProductCard,
    listing_page,
    product_cards,
    product_listing,
    product_search,
    visible_products,
)
from catalog.models import Category, Product, ProductImage, Variant
from inventory.models import Stock
from promotions.sales import Sales, alive_sales, sales_forget
from shipping.selectors import DeliveryPromise, ahome_delivery_promise

# Reads that every page makes but that change only when staff edit the catalogue
# (the category tree, a category's option facets) are kept in this process for
# CATALOG_CACHE_SECONDS. Listing pages (a page of product cards with the count) also
# change with every sale, so they are kept for CATALOG_LISTING_CACHE_SECONDS only: long
# enough that a busy category is read once every few seconds rather than on every
# request, short enough that a sold-out badge follows soon (product pages, the cart
# and checkout always read live stock). Edits through the admin clear it at once in
# the editing process; other processes see them within those many seconds. The
# memo is bounded, so odd query strings cannot grow it without limit.
_memo: dict[object, tuple[float, object]] = {}
_MEMO_MAX_ENTRIES = 2000


def catalog_cache_clear() -> None:
    """Forget the cached category tree, facets, listing pages and sales in this process."""
    _memo.clear()
    sales_forget()


async def _remembered(key: object, compute, *, seconds: int | None = None):
    if seconds is None:
        seconds = settings.CATALOG_CACHE_SECONDS
    if seconds:
        hit = _memo.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    value = await compute()
    if seconds:
        if len(_memo) >= _MEMO_MAX_ENTRIES:
            _memo.pop(next(iter(_memo)), None)  # the oldest entry
        _memo[key] = (time.monotonic() + seconds, value)
    return value


async def _remembered_briefly(key: object, compute: Callable[[], Awaitable]):
    """Remember what changes with every sale, for CATALOG_LISTING_CACHE_SECONDS."""
    return await _remembered(key, compute, seconds=settings.CATALOG_LISTING_CACHE_SECONDS)


async def delivery_promise() -> DeliveryPromise:
    """Return what the shop promises about home delivery (from the zones; kept like the tree)."""
    return await _remembered("delivery-promise", ahome_delivery_promise)


async def category_tree() -> CategoryTree:
    """Return the tree of visible categories, read in one query (or from the short-lived cache)."""
    return await _remembered("category-tree", _category_tree)


async def _category_tree() -> CategoryTree:
    rows = (
        Category.objects.filter(is_active=True)
        .order_by("position", "name")
        .values_list("id", "name", "slug", "description", "parent_id")
    )
    return category_tree_build([row async for row in rows])


async def category_page(
    *, tree: CategoryTree, category: CategoryNode, filters: ListingFilters, number: int, sales: Sales
) -> ListingPage | None:
    """Return page `number` of a category's listing (None when there is no such page).

    The count and the page's cards are read in one trip to a thread (three queries),
    and kept for CATALOG_LISTING_CACHE_SECONDS.
    """
    return await _remembered_briefly(
        ("category", category.id, repr(filters), number),
        sync_to_async(
            lambda: listing_page(
                product_listing(tree=tree, filters=filters, category=category, sales=sales),
                number,
                sales,
                filters.colours,
            )
        ),
    )


async def search_page(
    *, tree: CategoryTree, query: str, filters: ListingFilters, number: int, sales: Sales
) -> ListingPage | None:
    """Return page `number` of the search results for `query` (None when there is no such page).

    The search's reads (whether full text finds anything, the count, the page's cards)
    go in one trip to a thread, and the page is kept like a category's.
    """
    return await _remembered_briefly(
        ("search", query, repr(filters), number),
        sync_to_async(
            lambda: listing_page(
                product_search(tree=tree, query=query, filters=filters, sales=sales),
                number,
                sales,
                filters.colours,
            )
        ),
    )


async def option_facets_narrowed(
    *,
    tree: CategoryTree,
    category: CategoryNode,
    facets: list[OptionFacet],
    filters: ListingFilters,
    sales: Sales,
) -> list[OptionFacet]:
    """Return the category's facets counted within the other filters chosen (as they are, when
    none narrows the listing), kept like a listing page."""
    if not filters.narrows:
        return facets

    def listing(chosen: ListingFilters):
        return product_listing(tree=tree, filters=chosen, category=category, sales=sales)

    return await _remembered_briefly(
        ("facet-counts", category.id, repr(filters)),
        sync_to_async(lambda: facets_narrowed(facets, filters=filters, listing=listing)),
    )


async def sale_page(
    *, tree: CategoryTree, filters: ListingFilters, number: int, sales: Sales
) -> ListingPage | None:
    """Return page `number` of everything on sale (None when there is no such page), kept like a
    category's listing."""
    filters = replace(filters, on_sale=True)
    return await _remembered_briefly(
        ("sale", repr(filters), number),
        sync_to_async(
            lambda: listing_page(product_listing(tree=tree, filters=filters, sales=sales), number, sales)
        ),
    )


async def option_facets(*, tree: CategoryTree, category: CategoryNode) -> list[OptionFacet]:
    """Return the option values (size, colour, …) offered in a category, with product counts.

    The scan behind it grows with the category, so it is kept in the short-lived cache.
    """
    ids = tree.descendant_ids(category)
    return await _remembered(("facets", tuple(sorted(ids))), lambda: sync_to_async(option_facets_read)(ids))


async def featured_products(*, tree: CategoryTree, sales: Sales, limit: int = 8) -> list[ProductCard]:
    """Return featured products for the home page, newest first (briefly cached, like listings)."""
    products = visible_products(tree).filter(is_featured=True)
    return await _newest_cards(("featured", limit), products, limit, sales)


async def newest_products(*, tree: CategoryTree, sales: Sales, limit: int = 8) -> list[ProductCard]:
    """Return the newest products (briefly cached, like listings)."""
    return await _newest_cards(("newest", limit), visible_products(tree), limit, sales)


async def _newest_cards(
    key: tuple, products: QuerySet[Product], limit: int, sales: Sales
) -> list[ProductCard]:
    newest = products.order_by("-created_at", "-id")[:limit]
    return await _remembered_briefly(key, lambda: sync_to_async(product_cards)(newest, sales))


@dataclass(frozen=True)
class VariantChoice:
    id: int
    sku: str
    label: str
    options: dict[str, str]
    price: int  # after any sale
    currency: str
    available: int
    was_price: int | None = None  # the catalogue price, when a sale lowered it
    compare_at_price: int | None = None  # the price staff compare it with, if any

    @property
    def is_in_stock(self) -> bool:
        return self.available > 0

    @property
    def was(self) -> int | None:
        """The price to show struck through: before the sale, else the compare-at price."""
        return self.was_price or self.compare_at_price


@dataclass(frozen=True)
class AxisChoice:
    """One axis the product's variants vary on, with the values they use, in the type's order."""

    name: str
    label: str
    is_colour: bool
    values: tuple[tuple[str, str], ...]  # (value, swatch)


@dataclass(frozen=True)
class ProductDetail:
    id: int
    title: str
    slug: str
    description: str
    category_id: int
    currency: str
    price_from: int
    variants: list[VariantChoice]
    image_urls: list[tuple[str, str]]  # (url, alt text)
    image_colours: tuple[str, ...] = ()  # each image's colour value ("" for none), as image_urls
    image_srcsets: tuple[str, ...] = ()  # each image's resized copies ("" for none), as image_urls
    axes: tuple[AxisChoice, ...] = ()  # empty: its variants are listed one by one
    was_price_from: int | None = None  # the lowest catalogue price, when a sale lowered it
    sale_name: str = ""
    sale_ends_at: datetime | None = None

    @property
    def url(self) -> str:
        return f"/products/{self.slug}/"

    @property
    def available(self) -> int:
        return sum(variant.available for variant in self.variants)

    @property
    def option_names(self) -> list[str]:
        names: list[str] = []
        for variant in self.variants:
            for name in variant.options:
                if name not in names:
                    names.append(name)
        return names

    @property
    def has_price_range(self) -> bool:
        return len({variant.price for variant in self.variants}) > 1


async def product_detail(*, tree: CategoryTree, slug: str, sales: Sales) -> ProductDetail | None:
    """Return the visible product with this slug, its active variants and images, or None.

    What staff edit (text, prices, variants, images) is kept briefly like a listing page;
    how many of each variant are available is read fresh on every request (one query).
    """
    product = await _remembered_briefly(("product", slug), lambda: _product_detail(tree=tree, slug=slug))
    if product is None or not product.variants:
        return product
    product = _on_sale(product, sales)
    available = {
        variant_id: on_hand - allocated
        async for variant_id, on_hand, allocated in Stock.objects.filter(
            variant_id__in=[variant.id for variant in product.variants]
        ).values_list("variant_id", "on_hand", "allocated")
    }
    return replace(
        product,
        variants=[replace(variant, available=available.get(variant.id, 0)) for variant in product.variants],
    )


async def running_sales() -> Sales:
    """Return the sales running now, as the storefront's pages show them (one read a page, kept
    like a listing; the cart and checkout read them fresh). Read once for a page and passed to
    the selectors that price its cards."""
    return await _remembered_briefly("sales", alive_sales)


def _on_sale(product: ProductDetail, sales: Sales) -> ProductDetail:
    """Return the product with its variants at their sale prices, if a sale covers it."""
    if not sales:
        return product
    first = sales.price(price=product.price_from, product_id=product.id, category_id=product.category_id)
    if first.sale is None:
        return product
    variants = []
    for variant in product.variants:
        price = sales.price(price=variant.price, product_id=product.id, category_id=product.category_id)
        variants.append(replace(variant, price=price.price, was_price=price.was))
    return replace(
        product,
        variants=variants,
        price_from=first.price,
        was_price_from=first.was,
        sale_name=first.sale.name,
        sale_ends_at=first.sale.ends_at,
    )


async def _product_detail(*, tree: CategoryTree, slug: str) -> ProductDetail | None:
    """Return the product as staff edit it; each variant's `available` is filled in by the caller."""
    product = await (
        visible_products(tree)
        .filter(slug=slug)
        .select_related("product_type")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(is_active=True)),
            Prefetch("images", queryset=ProductImage.objects.select_related("colour")),
            "product_type__axes__values",
        )
        .afirst()
    )
    if product is None:
        return None
    images = list(product.images.all())
    variants = [
        VariantChoice(
            id=variant.id,
            sku=variant.sku,
            label=variant.label,
            options={str(k): str(v) for k, v in variant.options.items()},
            price=variant.price,
            currency=variant.currency,
            available=0,
            compare_at_price=variant.compare_at_price,
        )
        for variant in product.variants.all()
    ]
    return ProductDetail(
        id=product.id,
        title=product.title,
        slug=product.slug,
        description=product.description,
        category_id=product.category_id,
        currency=product.currency,
        price_from=product.price_from,
        variants=variants,
        image_urls=[
            (default_storage.url(image.image.name), image.alt_text or product.title) for image in images
        ],
        image_colours=tuple(image.colour.value if image.colour else "" for image in images),
        image_srcsets=tuple(srcset(image.image.name, image.widths) for image in images),
        axes=_axes(product, variants),
    )


def _axes(product: Product, variants: list[VariantChoice]) -> tuple[AxisChoice, ...]:
    """Return the product's axes with the values its variants use; none when it has no type or a
    variant lacks a value on one of them (it is then listed variant by variant)."""
    if product.product_type is None:
        return ()
    axes = list(product.product_type.axes.all())
    if not axes or any(set(variant.options) != {axis.name for axis in axes} for variant in variants):
        return ()
    used = {(name, value) for variant in variants for name, value in variant.options.items()}
    return tuple(
        AxisChoice(
            name=axis.name,
            label=axis.label,
            is_colour=axis.is_colour,
            values=tuple(
                (value.value, value.swatch) for value in axis.values.all() if (axis.name, value.value) in used
            ),
        )
        for axis in axes
    )
