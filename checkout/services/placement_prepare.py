"""Validating and pricing an order from one cart state, with reads only: the first step of placing it.

Every price is read again from the database; nothing priced by the browser is
trusted. The result, an OrderDraft, is what placement then writes in one short
transaction (placement.order_write).
"""

from dataclasses import dataclass, fields
from decimal import Decimal

from django.conf import settings
from django_countries import countries

from catalog.sellable import with_sellable
from checkout import keys
from checkout.exceptions import CartChanged, CartEmpty, CartError, PricesChanged
from checkout.models import Cart, CartLine
from checkout.pricing import CheckoutPrice, GoodsLine, Totals, checkout_price, delivery_basket
from checkout.quote import Choice, PricedLine, Quote, quote_changes
from checkout.services.carts import _title
from promotions.exceptions import CodeNotApplicable
from promotions.services import CartItem, Customer, Discount, discount_for
from shipping.selectors import delivery_offers
from taxes.rules import country_rates


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    line1: str
    line2: str
    city: str
    postcode: str
    country: str
    phone: str


ADDRESS_FIELDS = [field.name for field in fields(ShippingAddress)]


def _order_lines_check(lines: list[CartLine]) -> None:
    """Raise CartError naming the first line that cannot be ordered."""
    for line in lines:
        variant = line.variant
        if not line.is_sellable:
            raise CartError(
                f"{_title(variant)} is no longer available: we no longer sell it. "
                "Please remove it from your cart."
            )
        if variant.currency != settings.SHOP_CURRENCY:
            raise CartError(f"{_title(variant)} cannot be sold in {settings.SHOP_CURRENCY}.")


def _prices_confirm(seen: Quote, *, lines: list[CartLine], price: CheckoutPrice) -> None:
    """Raise PricesChanged when the order now differs from what the shopper saw."""
    offer, totals = price.offer, price.totals
    changes = quote_changes(
        seen=seen,
        currency=settings.SHOP_CURRENCY,
        lines=[
            PricedLine(
                variant_id=line.variant_id,
                title=_title(line.variant),
                quantity=line.quantity,
                unit_price=line.variant.price,
            )
            for line in lines
        ],
        choice=Choice(
            country=price.country,
            country_name=countries.name(price.country) or price.country,
            method=offer.code,
            method_name=offer.name,
            delivery=totals.shipping,
            tax=totals.tax,
            total=totals.total,
        ),
    )
    if changes:
        raise PricesChanged(changes)


def _order_discount(
    lines: list[CartLine], *, code_text: str, customer: Customer | None, seen: Quote | None
) -> Discount | None:
    """Return what the cart's code takes off these lines now; raise PricesChanged when the shopper
    saw it applied and it no longer applies (saying why)."""
    if not code_text:
        return None
    items = [
        CartItem(
            amount=line.variant.price * line.quantity,
            product_id=line.variant.product_id,
            category_id=line.variant.product.category_id,
        )
        for line in lines
    ]
    try:
        return discount_for(code_text=code_text, items=items, customer=customer)
    except CodeNotApplicable as error:
        if seen and seen.discount_code:
            raise PricesChanged([f"{error.user_message} The totals below are without it."]) from error
        return None


def order_price(
    *,
    lines: list[CartLine],
    country: str,
    method_code: str,
    seen: Quote | None = None,
    discount: Discount | None = None,
) -> CheckoutPrice:
    """Return the money of an order of these lines delivered to `country` by `method_code`, less
    `discount`; raise CartError when no such delivery option reaches it (two queries)."""
    goods = [
        GoodsLine(
            unit_price=line.variant.price,
            quantity=line.quantity,
            tax_class_id=line.variant.product.tax_class_id,
            grams=line.variant.weight_grams * line.quantity,
        )
        for line in lines
    ]
    basket = delivery_basket(goods, discount)
    offers = delivery_offers(country=country, basket=basket)
    if not offers:
        raise CartError(f"Sorry, we do not deliver to {countries.name(country) or country}.")
    if not any(offer.code == method_code for offer in offers):
        chosen = seen.method_name if seen and seen.method == method_code and seen.method_name else ""
        gone = f"{chosen} is" if chosen else "The delivery option you chose is"
        raise PricesChanged(
            [f"{gone} not available for this address; the totals below are with {offers[0].name}."]
        )
    return checkout_price(
        currency=settings.SHOP_CURRENCY,
        country=country,
        lines=goods,
        offers=offers,
        method_code=method_code,
        rates=country_rates(country),
        discount=discount,
    )


@dataclass(frozen=True)
class LineDraft:
    """One order line as placement prices it: what the order line will snapshot."""

    variant_id: int
    sku: str
    product_title: str
    variant_label: str
    unit_price: int
    quantity: int
    net: int
    tax: int
    tax_rate: Decimal
    discount: int = 0

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class OrderDraft:
    """An order validated and priced from one cart state, not yet written."""

    checkout_key: str
    cart_id: int
    cart_version: int
    shipping_method_code: str
    shipping_method_name: str
    totals: Totals
    lines: tuple[LineDraft, ...]
    discount: Discount | None = None  # a code's use to hold with the order
    customer: Customer | None = None  # who a once-per-customer code counts


def _line_drafts(lines: list[CartLine], totals: Totals) -> tuple[LineDraft, ...]:
    """Return the order lines as priced: catalogue price, what a discount took off, net and tax."""
    offs = totals.discount_lines or (0,) * len(lines)
    return tuple(
        LineDraft(
            variant_id=line.variant_id,
            sku=line.variant.sku,
            product_title=line.variant.product.title,
            variant_label=line.variant.label if line.variant.options else "",
            unit_price=line.variant.price,
            quantity=line.quantity,
            net=taxed.net,
            tax=taxed.tax,
            tax_rate=taxed.rate,
            discount=off,
        )
        for line, taxed, off in zip(lines, totals.lines, offs, strict=True)
    )


def order_prepare(
    *,
    cart_id: int,
    cart_version: int,
    address: ShippingAddress,
    shipping_method_code: str,
    seen_prices: Quote,
    customer: Customer | None = None,
) -> OrderDraft:
    """Return the order this cart state makes, validated and priced from the database; write nothing.

    Raise CartEmpty, CartChanged (the cart is no longer at `cart_version`), CartError
    (a line cannot be sold, no such delivery option) or PricesChanged when the prices
    now differ from `seen_prices`, those the checkout page showed.
    """
    # One statement reads the lines of exactly that version: a change commits its lines and
    # its new version together, and order_write checks the version again under the cart's lock.
    lines = list(
        with_sellable(CartLine.objects.filter(cart_id=cart_id, cart__version=cart_version), variant="variant")
        .select_related("variant__product", "cart")
        .order_by("added_at", "id")
    )
    if not lines:
        version = Cart.objects.filter(pk=cart_id).values_list("version", flat=True).first()
        raise CartChanged() if version not in (None, cart_version) else CartEmpty()
    _order_lines_check(lines)
    discount = _order_discount(
        lines, code_text=lines[0].cart.discount_code, customer=customer, seen=seen_prices
    )
    price = order_price(
        lines=lines,
        country=address.country,
        method_code=shipping_method_code,
        seen=seen_prices,
        discount=discount,
    )
    _prices_confirm(seen_prices, lines=lines, price=price)
    return OrderDraft(
        checkout_key=keys.checkout_key(cart_id=cart_id, cart_version=cart_version),
        cart_id=cart_id,
        cart_version=cart_version,
        shipping_method_code=price.offer.code,
        shipping_method_name=price.offer.name,
        totals=price.totals,
        discount=discount,
        customer=customer,
        lines=_line_drafts(lines, price.totals),
    )
