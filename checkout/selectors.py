"""Reads for the cart, checkout and order pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import OuterRef, Prefetch, Subquery

from accounts.models import Address
from catalog.models import ProductImage
from catalog.sellable import with_sellable
from checkout.models import Cart, CartLine, Order, Payment
from checkout.pricing import CheckoutPrice, GoodsLine, checkout_price, delivery_basket
from checkout.quote import Quote
from inventory.selectors import variant_available, with_stock
from promotions.sales import alive_sales
from promotions.services import CartItem, Customer, Discounts, adiscounts_for
from shipping.selectors import Basket, adelivery_offers
from taxes.rules import acountry_rates


@dataclass(frozen=True)
class CartLineView:
    variant_id: int
    sku: str
    product_title: str
    product_slug: str
    variant_label: str
    image_url: str | None
    unit_price: int  # after any sale
    currency: str
    quantity: int
    available: int
    is_sold: bool  # false when the variant, its product or its category was withdrawn
    tax_class_id: int | None = None
    weight_grams: int = 0
    product_id: int = 0
    category_id: int = 0
    list_price: int | None = None  # the catalogue price, when a sale lowered it
    sale_id: int | None = None
    sale_name: str = ""

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def was_total(self) -> int | None:
        """The line at its catalogue price, when a sale lowered it ("was £x")."""
        return self.list_price * self.quantity if self.list_price is not None else None

    @property
    def title(self) -> str:
        if self.variant_label and self.variant_label != "Standard":
            return f"{self.product_title} ({self.variant_label})"
        return self.product_title

    @property
    def exceeds_stock(self) -> bool:
        return self.quantity > self.available


@dataclass(frozen=True)
class CartSummary:
    cart_id: int | None
    version: int
    lines: list[CartLineView]
    currency: str
    discount_codes: tuple[str, ...] = ()  # as entered; whether each applies is priced each time

    @property
    def promotion_items(self) -> list[CartItem]:
        return [
            CartItem(
                amount=line.line_total,
                product_id=line.product_id,
                category_id=line.category_id,
                on_sale=line.sale_id is not None,
            )
            for line in self.lines
            if line.is_sold
        ]

    @property
    def sale_saving(self) -> int:
        """What sales take off the lines still sold."""
        return sum(line.was_total - line.line_total for line in self.lines if line.is_sold and line.was_total)

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines if line.is_sold)

    def basket_after(self, discounts: Discounts | None) -> Basket:
        """The basket delivery is priced on, its value less what codes take off the goods."""
        return delivery_basket(self.goods, discounts)

    @property
    def goods(self) -> list[GoodsLine]:
        return [
            GoodsLine(
                unit_price=line.unit_price,
                quantity=line.quantity,
                tax_class_id=line.tax_class_id,
                grams=line.weight_grams * line.quantity,
            )
            for line in self.lines
            if line.is_sold
        ]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def problems(self) -> list[str]:
        """Return what must be fixed before this cart can be ordered."""
        messages = []
        for line in self.lines:
            if not line.is_sold:
                messages.append(
                    f"{line.title} is no longer available: we no longer sell it. "
                    "Please remove it from your cart."
                )
            elif line.available <= 0:
                messages.append(f"{line.title} is out of stock. Please remove it.")
            elif line.exceeds_stock:
                messages.append(f"Only {line.available} of {line.title} left. Please lower the quantity.")
        return messages


def empty_cart_summary() -> CartSummary:
    return CartSummary(cart_id=None, version=0, lines=[], currency=settings.SHOP_CURRENCY)


async def cart_summary(*, cart: Cart | None) -> CartSummary:
    """Return the cart's lines with live prices (after any sale running now), stock and whether
    each is still sold (one query, and one for the sales)."""
    if cart is None:
        return empty_cart_summary()
    sales = await alive_sales()
    first_image = ProductImage.objects.filter(product=OuterRef("variant__product")).order_by("position", "id")
    lines = []
    async for line in (
        with_sellable(with_stock(CartLine.objects.filter(cart=cart), variant="variant"), variant="variant")
        .select_related("variant__product")
        .annotate(first_image=Subquery(first_image.values("image")[:1]))
        .order_by("added_at", "id")
    ):
        variant = line.variant
        price = sales.price(
            price=variant.price, product_id=variant.product_id, category_id=variant.product.category_id
        )
        lines.append(
            CartLineView(
                variant_id=variant.id,
                sku=variant.sku,
                product_title=variant.product.title,
                product_slug=variant.product.slug,
                variant_label=variant.label,
                image_url=default_storage.url(line.first_image) if line.first_image else None,
                unit_price=price.price,
                currency=variant.currency,
                quantity=line.quantity,
                available=variant_available(variant),
                is_sold=line.is_sellable,
                tax_class_id=variant.product.tax_class_id,
                weight_grams=variant.weight_grams,
                product_id=variant.product_id,
                category_id=variant.product.category_id,
                list_price=price.was,
                sale_id=price.sale.promotion_id if price.sale else None,
                sale_name=price.sale.name if price.sale else "",
            )
        )
    return CartSummary(
        cart_id=cart.id,
        version=cart.version,
        lines=lines,
        currency=settings.SHOP_CURRENCY,
        discount_codes=tuple(cart.discount_codes),
    )


async def cart_discounts(*, summary: CartSummary, customer: Customer | None) -> Discounts:
    """Return what the cart's codes take off it now, and why each of the others does not apply."""
    if not summary.discount_codes:
        return Discounts()
    return await adiscounts_for(
        codes=summary.discount_codes, items=summary.promotion_items, customer=customer
    )


async def checkout_price_for(
    *, summary: CartSummary, country: str, method_code: str | None, discounts: Discounts | None = None
) -> CheckoutPrice:
    """Return the delivery options to `country` and the totals with the one chosen (two queries)."""
    return checkout_price(
        currency=summary.currency,
        country=country,
        lines=summary.goods,
        offers=await adelivery_offers(country=country, basket=summary.basket_after(discounts)),
        method_code=method_code,
        rates=await acountry_rates(country),
        discounts=discounts,
    )


def checkout_quote(*, summary: CartSummary, price: CheckoutPrice) -> Quote:
    """Return what the checkout page is showing, for placement to compare with its own prices."""
    return Quote(
        currency=summary.currency,
        lines={line.variant_id: (line.quantity, line.unit_price) for line in summary.lines},
        country=price.country,
        method=price.offer.code if price.offer else "",
        method_name=price.offer.name if price.offer else "",
        delivery=price.totals.shipping,
        tax=price.totals.tax,
        total=price.totals.total,
        discount_codes=price.totals.discount_codes,
    )


async def saved_addresses(*, user) -> list[Address]:
    if not user.is_authenticated:
        return []
    return [
        address async for address in Address.objects.filter(user=user).order_by("-is_default", "-created_at")
    ]


async def order_by_token(*, token: str) -> Order | None:
    """Return the order with this public token, with its lines, tax per rate, payments (latest
    first) and refunds, or None."""
    if not token or len(token) > 64:
        return None
    return await (
        Order.objects.filter(public_token=token)
        .prefetch_related(
            "lines",
            "taxes",
            "discounts",
            Prefetch("payments", queryset=Payment.objects.order_by("-attempt")),
            "refunds",
        )
        .afirst()
    )


def current_payment(order: Order) -> Payment | None:
    """Return the order's latest payment attempt from its prefetched payments."""
    payments = list(order.payments.all())
    return payments[0] if payments else None
