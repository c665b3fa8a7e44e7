"""Product listings: the filtered, sorted products behind category and search pages, and their cards."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.files.storage import default_storage
from django.core.paginator import InvalidPage, Paginator
from django.db.models import (
    BigIntegerField,
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Greatest, Least, Round

from catalog.categories import CategoryNode, CategoryTree
from catalog.image_names import srcset
from catalog.models import Product, ProductImage, Variant
from catalog.option_types import COLOUR_NAMES
from catalog.sellable import published_q
from promotions.sales import NO_SALES, Sale, Sales

SORTS = {
    "newest": ("-created_at", "-id"),
    # By the price the card shows: the lowest, after any sale (annotated by _with_shown_price).
    "price_asc": ("shown_price", "id"),
    "price_desc": ("-shown_price", "-id"),
    "name": ("title", "id"),
}
SORT_LABELS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "name": "Name A–Z",
}


@dataclass(frozen=True)
class ProductCard:
    title: str
    slug: str
    price_from: int  # the lowest price, after any sale
    currency: str
    image_url: str | None
    is_in_stock: bool
    has_price_range: bool
    was_price: int | None = None  # the lowest catalogue price, when a sale lowered it
    sale_name: str = ""
    image_srcset: str = ""  # the picture's resized copies, when it has them

    @property
    def url(self) -> str:
        return f"/products/{self.slug}/"


@dataclass(frozen=True)
class ListingFilters:
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    on_sale: bool = False
    # Option name to accepted values: OR within a name, AND across names, on one variant.
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "newest"

    @property
    def colours(self) -> tuple[str, ...]:
        """The values chosen on colour axes, whose pictures the cards then show."""
        return tuple(
            value for name, values in self.options.items() if name in COLOUR_NAMES for value in values
        )

    @property
    def narrows(self) -> bool:
        """Whether any filter (not the sort) leaves products out."""
        return bool(
            self.min_price is not None
            or self.max_price is not None
            or self.in_stock
            or self.on_sale
            or self.options
        )


@dataclass(frozen=True)
class ListingPage:
    """One page of a product listing: its cards, where it stands, and the total count."""

    number: int
    num_pages: int
    total: int
    cards: list[ProductCard]
    # Names this reading of the page, so the rendered grid can be kept exactly as long.
    token: str = field(default_factory=lambda: secrets.token_hex(8))


def visible_products(tree: CategoryTree) -> QuerySet[Product]:
    return Product.objects.filter(published_q(), category_id__in=tree.visible_ids)


def _in_stock_subquery() -> Exists:
    # Driven from the product's own variants (an index lookup per product) rather than from the
    # stock table, which the planner would otherwise hash whole for every page.
    return Exists(
        Variant.objects.filter(
            product=OuterRef("pk"), is_active=True, stock__on_hand__gt=F("stock__allocated")
        )
    )


def product_cards_queryset(products: QuerySet[Product], colours: tuple[str, ...] = ()) -> QuerySet[Product]:
    """Return `products` annotated with what a product card shows, in one query: its first picture
    in one of `colours` when some are chosen, else its first."""
    first_image = ProductImage.objects.filter(product=OuterRef("pk"))
    if colours:
        in_colour = Case(When(colour__value__in=list(colours), then=Value(0)), default=Value(1))
        first_image = first_image.order_by(in_colour, "position", "id")
    else:
        first_image = first_image.order_by("position", "id")
    higher_price = Variant.objects.filter(
        product=OuterRef("pk"), is_active=True, price__gt=OuterRef("price_from")
    )
    return products.only("id", "title", "slug", "price_from", "currency", "category_id").annotate(
        first_image=Subquery(first_image.values("image")[:1]),
        first_image_widths=Subquery(first_image.values("widths")[:1]),
        is_in_stock=_in_stock_subquery(),
        has_price_range=Exists(higher_price),
    )


def _card(product: Product, sales: Sales) -> ProductCard:
    price = sales.price(price=product.price_from, product_id=product.pk, category_id=product.category_id)
    return ProductCard(
        title=product.title,
        slug=product.slug,
        price_from=price.price,
        currency=product.currency,
        image_url=default_storage.url(product.first_image) if product.first_image else None,
        is_in_stock=product.is_in_stock,
        has_price_range=product.has_price_range,
        was_price=price.was,
        sale_name=price.sale.name if price.sale else "",
        image_srcset=srcset(product.first_image, product.first_image_widths or ())
        if product.first_image
        else "",
    )


def product_cards(
    products: QuerySet[Product], sales: Sales = NO_SALES, colours: tuple[str, ...] = ()
) -> list[ProductCard]:
    """Return the cards for an already-sliced queryset, in its order, at the `sales`' prices.

    Two queries: the page's ids first, then what the cards show for those ids
    only. Asked together, PostgreSQL plans the per-product subqueries for every
    row before the sort and limit, and builds a hash of the whole stock table on
    every page.
    """
    ids = list(products.values_list("pk", flat=True))
    if not ids:
        return []
    cards = product_cards_queryset(Product.objects.filter(pk__in=ids), colours)
    rows = {product.pk: product for product in cards}
    return [_card(rows[pk], sales) for pk in ids if pk in rows]


def listing_page(
    products: QuerySet[Product], number: int, sales: Sales = NO_SALES, colours: tuple[str, ...] = ()
) -> ListingPage | None:
    """Return page `number` of `products` with the total count, or None when there is no such page."""
    paginator = Paginator(products, settings.PRODUCTS_PER_PAGE)
    try:
        page = paginator.page(number)
    except InvalidPage:
        return None
    return ListingPage(
        number=page.number,
        num_pages=paginator.num_pages,
        total=paginator.count,
        cards=product_cards(page.object_list, sales, colours),
    )


def _covers(sale: Sale) -> Q:
    return Q(pk__in=sorted(sale.product_ids)) | Q(category_id__in=sorted(sale.category_ids))


def _lowered(sale: Sale):
    """Return the expression of a product's lowest price after `sale` (as Sale.off rounds it:
    PostgreSQL's ROUND takes halves away from zero, which for prices is up)."""
    price = F("price_from")
    if sale.percent is not None:
        off = Round(ExpressionWrapper(price * Value(sale.percent) / 100, output_field=DecimalField()))
        return Greatest(price - Cast(off, BigIntegerField()), Value(0), output_field=BigIntegerField())
    return Greatest(price - Value(sale.amount or 0), Value(0), output_field=BigIntegerField())


def _with_shown_price(products: QuerySet[Product], sales: Sales) -> QuerySet[Product]:
    """Annotate the price a product's card shows: its lowest, after the sale that takes most off."""
    if not sales:
        return products.annotate(shown_price=F("price_from"))
    lowered = [
        _lowered(sale)
        if sale.covers_all
        else Case(
            When(_covers(sale), then=_lowered(sale)), default=F("price_from"), output_field=BigIntegerField()
        )
        for sale in sales.running
    ]
    shown = Least(*lowered, output_field=BigIntegerField()) if len(lowered) > 1 else lowered[0]
    return products.annotate(shown_price=shown)


def _on_sale(products: QuerySet[Product], sales: Sales) -> QuerySet[Product]:
    if any(sale.covers_all for sale in sales.running):
        return products
    covered = Q(pk__in=[])
    for sale in sales.running:
        covered |= _covers(sale)
    return products.filter(covered)


def product_listing(
    *,
    tree: CategoryTree,
    filters: ListingFilters,
    category: CategoryNode | None = None,
    sales: Sales = NO_SALES,
) -> QuerySet[Product]:
    """Return the ordered, filtered product queryset for a listing page (not yet evaluated)."""
    products = visible_products(tree)
    if category is not None:
        products = products.filter(category_id__in=tree.descendant_ids(category))
    products = _apply_filters(products, filters, sales)
    return products.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def _apply_filters(products: QuerySet[Product], filters: ListingFilters, sales: Sales) -> QuerySet[Product]:
    products = _with_shown_price(products, sales)
    if filters.min_price is not None:
        products = products.filter(shown_price__gte=filters.min_price)
    if filters.max_price is not None:
        products = products.filter(shown_price__lte=filters.max_price)
    if filters.on_sale:
        products = _on_sale(products, sales)
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


def product_search(
    *, tree: CategoryTree, query: str, filters: ListingFilters, sales: Sales = NO_SALES
) -> QuerySet[Product]:
    """Return products matching `query`, best first.

    Full-text search (English stemming, title weighted above description) finds
    the words through its GIN index. Only when it finds nothing does trigram word
    similarity on the title look for a misspelling ("jumpr"): asking both at
    once made every search rank every trigram candidate.
    """
    search_query = SearchQuery(query, search_type="websearch", config="english")
    visible = visible_products(tree)
    if visible.filter(search_vector=search_query).exists():
        products = visible.filter(search_vector=search_query).annotate(
            score=SearchRank(F("search_vector"), search_query)
        )
    else:
        products = visible.filter(title__trigram_word_similar=query).annotate(
            score=TrigramWordSimilarity(query, "title")
        )
    products = _apply_filters(products, filters, sales)
    return products.order_by(*SORTS.get(filters.sort, (F("score").desc(), "-id")))
