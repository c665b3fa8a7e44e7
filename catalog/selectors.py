"""Reads for the storefront. Every function here is async and returns plain data."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.files.storage import default_storage
from django.core.paginator import InvalidPage, Paginator
from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from catalog.models import Category, Product, ProductImage, Variant
from inventory.models import Stock

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
    """Forget the cached category tree, facets and listing pages in this process."""
    _memo.clear()


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


SORTS = {
    "newest": ("-created_at", "-id"),
    "price_asc": ("price_from", "id"),
    "price_desc": ("-price_from", "-id"),
    "name": ("title", "id"),
}
SORT_LABELS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "name": "Name A–Z",
}


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    description: str
    parent_id: int | None
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"/category/{self.slug}/"


@dataclass(frozen=True)
class CategoryTree:
    """The visible categories: active ones whose every ancestor is active too."""

    roots: list[CategoryNode]
    by_id: dict[int, CategoryNode]
    by_slug: dict[str, CategoryNode]

    def ancestors(self, node: CategoryNode) -> list[CategoryNode]:
        """Return the chain from the root down to `node`'s parent."""
        chain: list[CategoryNode] = []
        parent_id = node.parent_id
        while parent_id is not None and parent_id in self.by_id:
            parent = self.by_id[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    def descendant_ids(self, node: CategoryNode) -> list[int]:
        """Return the ids of `node` and every category below it."""
        ids, stack = [], [node]
        while stack:
            current = stack.pop()
            ids.append(current.id)
            stack.extend(current.children)
        return ids

    @property
    def visible_ids(self) -> list[int]:
        return list(self.by_id)


async def category_tree() -> CategoryTree:
    """Return the tree of visible categories, read in one query (or from the short-lived cache)."""
    return await _remembered("category-tree", _category_tree)


async def _category_tree() -> CategoryTree:
    rows = [
        row
        async for row in Category.objects.filter(is_active=True)
        .order_by("position", "name")
        .values_list("id", "name", "slug", "description", "parent_id")
    ]
    nodes = {row[0]: CategoryNode(*row) for row in rows}
    roots: list[CategoryNode] = []
    for node in nodes.values():
        if node.parent_id is None:
            roots.append(node)
        elif node.parent_id in nodes:
            nodes[node.parent_id].children.append(node)
    # Keep only nodes reachable from a root: a child of an inactive parent is hidden.
    visible: dict[int, CategoryNode] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        visible[node.id] = node
        stack.extend(node.children)
    return CategoryTree(roots=roots, by_id=visible, by_slug={node.slug: node for node in visible.values()})


@dataclass(frozen=True)
class ProductCard:
    title: str
    slug: str
    price_from: int
    currency: str
    image_url: str | None
    is_in_stock: bool
    has_price_range: bool

    @property
    def url(self) -> str:
        return f"/products/{self.slug}/"


@dataclass(frozen=True)
class ListingFilters:
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    # Option name to accepted values: OR within a name, AND across names, on one variant.
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "newest"


def _image_url(name: str | None) -> str | None:
    return default_storage.url(name) if name else None


def _visible_products(tree: CategoryTree) -> QuerySet[Product]:
    return Product.objects.filter(is_active=True, category_id__in=tree.visible_ids)


def _in_stock_subquery() -> Exists:
    # Driven from the product's own variants (an index lookup per product) rather than from the
    # stock table, which the planner would otherwise hash whole for every page.
    return Exists(
        Variant.objects.filter(
            product=OuterRef("pk"), is_active=True, stock__on_hand__gt=F("stock__allocated")
        )
    )


def product_cards_queryset(products: QuerySet[Product]) -> QuerySet[Product]:
    """Return `products` annotated with what a product card shows, in one query."""
    first_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    higher_price = Variant.objects.filter(
        product=OuterRef("pk"), is_active=True, price__gt=OuterRef("price_from")
    )
    return products.only("id", "title", "slug", "price_from", "currency").annotate(
        first_image=Subquery(first_image.values("image")[:1]),
        is_in_stock=_in_stock_subquery(),
        has_price_range=Exists(higher_price),
    )


def _product_cards(products: QuerySet[Product]) -> list[ProductCard]:
    """Return the cards for an already-sliced queryset, in its order.

    Two queries: the page's ids first, then what the cards show for those ids
    only. Asked together, PostgreSQL plans the per-product subqueries for every
    row before the sort and limit, and builds a hash of the whole stock table on
    every page.
    """
    ids = list(products.values_list("pk", flat=True))
    if not ids:
        return []
    rows = {product.pk: product for product in product_cards_queryset(Product.objects.filter(pk__in=ids))}
    return [
        ProductCard(
            title=product.title,
            slug=product.slug,
            price_from=product.price_from,
            currency=product.currency,
            image_url=_image_url(product.first_image),
            is_in_stock=product.is_in_stock,
            has_price_range=product.has_price_range,
        )
        for product in (rows[pk] for pk in ids if pk in rows)
    ]


product_cards = sync_to_async(_product_cards)


@dataclass(frozen=True)
class ListingPage:
    """One page of a product listing: its cards, where it stands, and the total count."""

    number: int
    num_pages: int
    total: int
    cards: list[ProductCard]
    # Names this reading of the page, so the rendered grid can be kept exactly as long.
    token: str = field(default_factory=lambda: secrets.token_hex(8))


def _listing_page(products: QuerySet[Product], number: int) -> ListingPage | None:
    paginator = Paginator(products, settings.PRODUCTS_PER_PAGE)
    try:
        page = paginator.page(number)
    except InvalidPage:
        return None
    return ListingPage(
        number=page.number,
        num_pages=paginator.num_pages,
        total=paginator.count,
        cards=_product_cards(page.object_list),
    )


async def category_page(
    *, tree: CategoryTree, category: CategoryNode, filters: ListingFilters, number: int
) -> ListingPage | None:
    """Return page `number` of a category's listing (None when there is no such page).

    The count and the page's cards are read in one trip to a thread (three queries),
    and kept for CATALOG_LISTING_CACHE_SECONDS.
    """

    def read() -> ListingPage | None:
        return _listing_page(product_listing(tree=tree, filters=filters, category=category), number)

    return await _remembered(
        ("category", category.id, repr(filters), number),
        sync_to_async(read),
        seconds=settings.CATALOG_LISTING_CACHE_SECONDS,
    )


def product_listing(
    *, tree: CategoryTree, filters: ListingFilters, category: CategoryNode | None = None
) -> QuerySet[Product]:
    """Return the ordered, filtered product queryset for a listing page (not yet evaluated)."""
    products = _visible_products(tree)
    if category is not None:
        products = products.filter(category_id__in=tree.descendant_ids(category))
    products = _apply_filters(products, filters)
    return products.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def _apply_filters(products: QuerySet[Product], filters: ListingFilters) -> QuerySet[Product]:
    if filters.min_price is not None:
        products = products.filter(price_from__gte=filters.min_price)
    if filters.max_price is not None:
        products = products.filter(price_from__lte=filters.max_price)
    if filters.in_stock:
        products = products.filter(_in_stock_subquery())
    if filters.options:
        matching_variant = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        for name, values in filters.options.items():
            any_value = Q()
            for value in values:
                any_value |= Q(options__contains={name: value})
            matching_variant = matching_variant.filter(any_value)
        products = products.filter(Exists(matching_variant))
    return products


def _product_search(*, tree: CategoryTree, query: str, filters: ListingFilters) -> QuerySet[Product]:
    """Return products matching `query`, best first.

    Full-text search (English stemming, title weighted above description) finds
    the words through its GIN index. Only when it finds nothing does trigram word
    similarity on the title look for a misspelling ("jumpr"): asking both at
    once made every search rank every trigram candidate.
    """
    search_query = SearchQuery(query, search_type="websearch", config="english")
    visible = _visible_products(tree)
    if visible.filter(search_vector=search_query).exists():
        products = visible.filter(search_vector=search_query).annotate(
            rank=SearchRank(F("search_vector"), search_query)
        )
        best_first = (F("rank").desc(), "-id")
    else:
        products = visible.filter(title__trigram_word_similar=query).annotate(
            similarity=TrigramWordSimilarity(query, "title")
        )
        best_first = (F("similarity").desc(), "-id")
    products = _apply_filters(products, filters)
    if filters.sort in SORTS:
        return products.order_by(*SORTS[filters.sort])
    return products.order_by(*best_first)


async def search_page(
    *, tree: CategoryTree, query: str, filters: ListingFilters, number: int
) -> ListingPage | None:
    """Return page `number` of the search results for `query` (None when there is no such page).

    The search's reads (whether full text finds anything, the count, the page's cards)
    go in one trip to a thread, and the page is kept like a category's.
    """

    def read() -> ListingPage | None:
        return _listing_page(_product_search(tree=tree, query=query, filters=filters), number)

    return await _remembered(
        ("search", query, repr(filters), number),
        sync_to_async(read),
        seconds=settings.CATALOG_LISTING_CACHE_SECONDS,
    )


@dataclass(frozen=True)
class OptionFacet:
    name: str
    values: list[tuple[str, int]]  # (value, number of products)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def choices(self, filters: ListingFilters) -> list[tuple[str, int, bool]]:
        """Return (value, number of products, chosen in `filters`) for each value."""
        chosen = set(filters.options.get(self.name, ()))
        return [(value, count, value in chosen) for value, count in self.values]


def _option_facets_sync(category_ids: list[int]) -> list[OptionFacet]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT option.key, option.value, COUNT(DISTINCT variant.product_id)
            FROM catalog_variant AS variant
            JOIN catalog_product AS product ON product.id = variant.product_id
            CROSS JOIN LATERAL jsonb_each_text(variant.options) AS option
            WHERE variant.is_active AND product.is_active AND product.category_id = ANY(%s)
            GROUP BY option.key, option.value
            ORDER BY option.key, option.value
            """,
            [category_ids],
        )
        rows = cursor.fetchall()
    facets: dict[str, list[tuple[str, int]]] = {}
    for name, value, count in rows:
        facets.setdefault(name, []).append((value, count))
    return [
        OptionFacet(name=name, values=sorted(values, key=lambda item: _option_sort_key(item[0])))
        for name, values in facets.items()
    ]


_SIZE_ORDER = {
    size: index
    for index, size in enumerate(
        ["XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL", "Single", "Double", "King", "Super King"]
    )
}


def _option_sort_key(value: str) -> tuple[int, float, str]:
    """Sort sizes in wearing order, numbers numerically, anything else alphabetically."""
    if value in _SIZE_ORDER:
        return (0, _SIZE_ORDER[value], "")
    try:
        return (1, float(value), "")
    except ValueError:
        return (2, 0.0, value.lower())


async def option_facets(*, tree: CategoryTree, category: CategoryNode) -> list[OptionFacet]:
    """Return the option values (size, colour, …) offered in a category, with product counts.

    The scan behind it grows with the category, so it is kept in the short-lived cache.
    """
    ids = tree.descendant_ids(category)
    return await _remembered(("facets", tuple(sorted(ids))), lambda: sync_to_async(_option_facets_sync)(ids))


async def featured_products(*, tree: CategoryTree, limit: int = 8) -> list[ProductCard]:
    """Return featured products for the home page, newest first (briefly cached, like listings)."""
    products = _visible_products(tree).filter(is_featured=True).order_by("-created_at", "-id")[:limit]
    return await _remembered(
        ("featured", limit),
        lambda: product_cards(products),
        seconds=settings.CATALOG_LISTING_CACHE_SECONDS,
    )


async def newest_products(*, tree: CategoryTree, limit: int = 8) -> list[ProductCard]:
    """Return the newest products (briefly cached, like listings)."""
    products = _visible_products(tree).order_by("-created_at", "-id")[:limit]
    return await _remembered(
        ("newest", limit),
        lambda: product_cards(products),
        seconds=settings.CATALOG_LISTING_CACHE_SECONDS,
    )


@dataclass(frozen=True)
class VariantChoice:
    id: int
    sku: str
    label: str
    options: dict[str, str]
    price: int
    currency: str
    available: int

    @property
    def is_in_stock(self) -> bool:
        return self.available > 0


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


async def product_detail(*, tree: CategoryTree, slug: str) -> ProductDetail | None:
    """Return the visible product with this slug, its active variants and images, or None.

    What staff edit (text, prices, variants, images) is kept briefly like a listing page;
    how many of each variant are available is read fresh on every request (one query).
    """
    product = await _remembered(
        ("product", slug),
        lambda: _product_detail(tree=tree, slug=slug),
        seconds=settings.CATALOG_LISTING_CACHE_SECONDS,
    )
    if product is None or not product.variants:
        return product
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


async def _product_detail(*, tree: CategoryTree, slug: str) -> ProductDetail | None:
    """Return the product as staff edit it; each variant's `available` is filled in by the caller."""
    product = await (
        _visible_products(tree)
        .filter(slug=slug)
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=Variant.objects.filter(is_active=True),
            ),
            "images",
        )
        .afirst()
    )
    if product is None:
        return None
    variants = []
    for variant in product.variants.all():
        variants.append(
            VariantChoice(
                id=variant.id,
                sku=variant.sku,
                label=variant.label,
                options={str(k): str(v) for k, v in variant.options.items()},
                price=variant.price,
                currency=variant.currency,
                available=0,
            )
        )
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
            (default_storage.url(image.image.name), image.alt_text or product.title)
            for image in product.images.all()
        ],
    )
