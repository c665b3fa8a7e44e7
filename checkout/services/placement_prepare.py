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
from promotions.sales import SalePrice, Sales, live_sales
from promotions.services import CartItem, Customer, Discounts, discounts_for
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


def _sale_prices(lines: list[CartLine], sales: Sales) -> list[SalePrice]:
    """Return each line's unit price after the sale running now that takes most off it."""
    return [
        sales.price(
            price=line.variant.price,
            product_id=line.variant.product_id,
            category_id=line.variant.product.category_id,
        )
        for line in lines
    ]


def _prices_confirm(
    seen: Quote, *, lines: list[CartLine], prices: list[SalePrice], price: CheckoutPrice
) -> None:
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
                unit_price=unit.price,
            )
            for line, unit in zip(lines, prices, strict=True)
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


def _order_discounts(
    lines: list[CartLine],
    prices: list[SalePrice],
    *,
    codes: list[str],
    customer: Customer | None,
    seen: Quote | None,
) -> Discounts:
    """Return what the cart's codes take off these lines now; raise PricesChanged when the shopper
    saw one applied that no longer applies (saying why)."""
    if not codes:
        return Discounts()
    items = [
        CartItem(
            amount=unit.price * line.quantity,
            product_id=line.variant.product_id,
            category_id=line.variant.product.category_id,
            on_sale=unit.sale is not None,
        )
        for line, unit in zip(lines, prices, strict=True)
    ]
    found = discounts_for(codes=codes, items=items, customer=customer)
    seen_codes = seen.discount_codes if seen else ()
    named = len(seen_codes) > 1  # which code, when there were several
    lost = [
        f"{f'Code {code}: ' if named else ''}{found.problem(code)} The totals below are without it."
        for code in seen_codes
        if code not in found.codes and found.problem(code)
    ]
    if lost:
        raise PricesChanged(lost)
    return found


def order_price(
    *,
    lines: list[CartLine],
    country: str,
    method_code: str,
    seen: Quote | None = None,
    prices: list[SalePrice] | None = None,
    discounts: Discounts | None = None,
) -> CheckoutPrice:
    """Return the money of an order of these lines at their `prices` (their catalogue prices when
    None) delivered to `country` by `method_code`, less `discounts`; raise CartError when no
    such delivery option reaches it (two queries)."""
    prices = prices or _sale_prices(lines, Sales())
    goods = [
        GoodsLine(
            unit_price=unit.price,
            quantity=line.quantity,
            tax_class_id=line.variant.product.tax_class_id,
            grams=line.variant.weight_grams * line.quantity,
        )
        for line, unit in zip(lines, prices, strict=True)
    ]
    basket = delivery_basket(goods, discounts)
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
        discounts=discounts,
    )


@dataclass(frozen=True)
class LineDraft:
    """One order line as placement prices it: what the order line will snapshot."""

    variant_id: int
    sku: str
    product_title: str
    variant_label: str
    unit_price: int  # after any sale
    quantity: int
    net: int
    tax: int
    tax_rate: Decimal
    discount: int = 0
    list_price: int = 0  # before the sale (unit_price when none)
    sale_id: int | None = None
    sale_name: str = ""

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
    discounts: Discounts = Discounts()  # the codes whose uses to hold with the order
    customer: Customer | None = None  # who a once-per-customer code counts


def _line_drafts(lines: list[CartLine], prices: list[SalePrice], totals: Totals) -> tuple[LineDraft, ...]:
    """Return the order lines as priced: sale and catalogue price, what codes took off, net and tax."""
    offs = totals.discount_lines or (0,) * len(lines)
    return tuple(
        LineDraft(
            variant_id=line.variant_id,
            sku=line.variant.sku,
            product_title=line.variant.product.title,
            variant_label=line.variant.label if line.variant.options else "",
            unit_price=unit.price,
            quantity=line.quantity,
            net=taxed.net,
            tax=taxed.tax,
            tax_rate=taxed.rate,
            discount=off,
            list_price=unit.list_price,
            sale_id=unit.sale.promotion_id if unit.sale else None,
            sale_name=unit.sale.name if unit.sale else "",
        )
        for line, unit, taxed, off in zip(lines, prices, totals.lines, offs, strict=True)
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
    prices = _sale_prices(lines, live_sales())
    discounts = _order_discounts(
        lines, prices, codes=lines[0].cart.discount_codes, customer=customer, seen=seen_prices
    )
    price = order_price(
        lines=lines,
        country=address.country,
        method_code=shipping_method_code,
        seen=seen_prices,
        prices=prices,
        discounts=discounts,
    )
    _prices_confirm(seen_prices, lines=lines, prices=prices, price=price)
    return OrderDraft(
        checkout_key=keys.checkout_key(cart_id=cart_id, cart_version=cart_version),
        cart_id=cart_id,
        cart_version=cart_version,
        shipping_method_code=price.offer.code,
        shipping_method_name=price.offer.name,
        totals=price.totals,
        discounts=discounts,
        customer=customer,
        lines=_line_drafts(lines, prices, price.totals),
    )
