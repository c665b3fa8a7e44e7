"""Validating and pricing an order from one cart state, with reads only: the first step of placing it.

Every price is read again from the database; nothing priced by the browser is
trusted. The result, an OrderDraft, is what placement then writes in one short
transaction (placement.order_write).
"""

from dataclasses import dataclass, fields

from django.conf import settings

from catalog.sellable import with_sellable
from checkout import keys
from checkout.exceptions import CartChanged, CartEmpty, CartError, PricesChanged
from checkout.models import COUNTRY_CHOICES, Cart, CartLine, ShippingMethod, TaxRate
from checkout.pricing import Totals, totals_compute
from checkout.quote import PricedLine, Quote, quote_changes
from checkout.services.carts import _title


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


def _prices_confirm(
    seen: Quote, *, lines: list[CartLine], method: ShippingMethod, rate: TaxRate | None, country: str
) -> None:
    """Raise PricesChanged when the cart's prices now differ from those the shopper saw."""
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
        method=(method.code, method.name, method.price, method.free_over),
        country=(country, dict(COUNTRY_CHOICES).get(country, country), rate.rate if rate else None),
    )
    if changes:
        raise PricesChanged(changes)


@dataclass(frozen=True)
class LineDraft:
    """One order line as placement prices it: what the order line will snapshot."""

    variant_id: int
    sku: str
    product_title: str
    variant_label: str
    unit_price: int
    quantity: int

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


def order_prepare(
    *,
    cart_id: int,
    cart_version: int,
    address: ShippingAddress,
    shipping_method_code: str,
    seen_prices: Quote,
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
        .select_related("variant__product")
        .order_by("added_at", "id")
    )
    if not lines:
        version = Cart.objects.filter(pk=cart_id).values_list("version", flat=True).first()
        raise CartChanged() if version not in (None, cart_version) else CartEmpty()
    _order_lines_check(lines)
    method = ShippingMethod.objects.filter(code=shipping_method_code, is_active=True).first()
    if method is None:
        raise CartError("Please choose one of the delivery options shown.")
    rate = TaxRate.objects.filter(country=address.country).first()
    _prices_confirm(seen_prices, lines=lines, method=method, rate=rate, country=address.country)
    totals = totals_compute(
        currency=settings.SHOP_CURRENCY,
        subtotal=sum(line.variant.price * line.quantity for line in lines),
        shipping_price=method.price,
        free_over=method.free_over,
        tax_name=rate.name if rate else "Tax",
        tax_rate=rate.rate if rate else 0,
    )
    return OrderDraft(
        checkout_key=keys.checkout_key(cart_id=cart_id, cart_version=cart_version),
        cart_id=cart_id,
        cart_version=cart_version,
        shipping_method_code=method.code,
        shipping_method_name=method.name,
        totals=totals,
        lines=tuple(
            LineDraft(
                variant_id=line.variant_id,
                sku=line.variant.sku,
                product_title=line.variant.product.title,
                variant_label=line.variant.label if line.variant.options else "",
                unit_price=line.variant.price,
                quantity=line.quantity,
            )
            for line in lines
        ),
    )
