"""An order's VAT receipt: its rows (goods, delivery at each rate, what a discount took off, the
tax per rate, refunds) read once from the order's money snapshot, for the order page, the
confirmation e-mail, the printable receipt and its PDF alike; and the order's totals as its pages
list them, the discount on a row of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from checkout.models import Order, OrderLine, OrderTax, Refund
from shop.money import format_money

# The payment states in which the money was taken, so the order has a receipt.
RECEIPT_PAYMENT_STATUSES = frozenset(
    {Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED, Order.PaymentStatus.REFUNDED}
)


def receipt_is_available(order: Order) -> bool:
    """Return whether the order was paid (refunded since or not), so that it has a receipt."""
    return order.payment_status in RECEIPT_PAYMENT_STATUSES


def rate_text(rate: Decimal | None) -> str:
    """Return a tax rate as the receipt prints it, e.g. "20%" or "5.5%"; "" when it is not known."""
    if rate is None:
        return ""
    return f"{format(rate.normalize(), 'f')}%"


@dataclass(frozen=True)
class Seller:
    legal_name: str
    address: str
    vat_number: str

    @property
    def address_lines(self) -> list[str]:
        return [part.strip() for part in self.address.split(",") if part.strip()]


@dataclass(frozen=True)
class LineShown:
    """An order line as its pages list it: at its catalogue price, with what a discount took off."""

    line: OrderLine
    prices_include_tax: bool

    @property
    def paid(self) -> int:
        """The line after its discount, as the catalogue prices carry tax (or not)."""
        return self.line.line_total - self.line.discount

    @property
    def is_charged_apart(self) -> bool:
        """Whether what was charged differs from the price after the discount (tax of another country)."""
        return self.prices_include_tax and self.line.gross != self.paid


@dataclass(frozen=True)
class DiscountRow:
    label: str  # e.g. "Ten off (SAVE10)", or a sale's name
    amount: int
    delivery: int = 0  # of which off delivery


@dataclass(frozen=True)
class TotalsShown:
    """The order's totals as its pages list them: the goods (at their sale prices) and delivery
    before any code, then each code on its own row, so that the rows add up to the total charged;
    what sales saved is said apart, being in the prices already."""

    currency: str
    prices_include_tax: bool
    rows: tuple[LineShown, ...]
    subtotal: int  # the goods before the codes: gross when prices include tax, else net
    delivery: int  # likewise, delivery before the codes
    discount_goods: int
    discount_delivery: int
    codes: tuple[DiscountRow, ...] = ()
    sales: tuple[DiscountRow, ...] = ()

    @property
    def discount(self) -> int:
        return self.discount_goods + self.discount_delivery

    @property
    def discount_label(self) -> str:
        """The names of the codes that took something off the goods, e.g. "Ten off (SAVE10), Five
        off (FIVER)" (what lines and the VAT note name)."""
        on_goods = [code.label for code in self.codes if code.amount > code.delivery]
        return ", ".join(on_goods or [code.label for code in self.codes]) or "Discount"

    @property
    def sale_saving(self) -> int:
        return sum(sale.amount for sale in self.sales)


def totals_shown(*, order: Order, lines: Sequence[OrderLine]) -> TotalsShown:
    """Return the order's totals as listed, from its snapshot, its `lines` and its discounts (both
    already read)."""
    discount_goods = sum(line.discount for line in lines)
    # Whatever the lines do not account for came off delivery (a free-delivery code).
    discount_delivery = max(order.discount_total - discount_goods, 0)
    goods = order.goods_gross if order.prices_include_tax else order.subtotal
    delivery = order.shipping_gross if order.prices_include_tax else order.shipping_total
    discounts = list(order.discounts.all())
    codes = [
        DiscountRow(label=row.label, amount=row.amount, delivery=row.delivery)
        for row in discounts
        if row.kind == "code"
    ]
    if order.discount_total and not codes:  # kept from before codes were recorded one by one
        codes = [DiscountRow(label="Discount", amount=order.discount_total)]
    return TotalsShown(
        currency=order.currency,
        prices_include_tax=order.prices_include_tax,
        rows=tuple(LineShown(line=line, prices_include_tax=order.prices_include_tax) for line in lines),
        subtotal=goods + discount_goods,
        delivery=delivery + discount_delivery,
        discount_goods=discount_goods,
        discount_delivery=discount_delivery,
        codes=tuple(codes),
        sales=tuple(
            DiscountRow(label=row.name, amount=row.amount) for row in discounts if row.kind != "code"
        ),
    )


class _Taxed:
    """A row's gross and its rate as text, from its net, tax and rate."""

    net: int
    tax: int
    rate: Decimal | None

    @property
    def gross(self) -> int:
        return self.net + self.tax

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)


@dataclass(frozen=True)
class ReceiptRow(_Taxed):
    """One line of goods, or the delivery's share at one rate."""

    description: str
    sku: str
    quantity: int
    unit_price: int  # as the catalogue priced it: including tax when the order's prices did
    net: int
    tax: int
    rate: Decimal | None  # None: nothing was charged, or the rate is not on record
    is_delivery: bool = False
    discount: int = 0  # taken off the line's total before tax: net and tax are after it

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class RateRow(_Taxed):
    """The tax at one rate over the whole order, delivery included."""

    rate: Decimal | None
    net: int
    tax: int


@dataclass(frozen=True)
class RefundRow:
    date: datetime
    amount: int
    tax: int  # the tax inside the amount given back
    reason: str


@dataclass(frozen=True)
class Receipt:
    number: str
    currency: str
    tax_name: str
    prices_include_tax: bool
    is_paid: bool
    date: datetime  # paid, or placed for an order never paid
    seller: Seller
    buyer_name: str
    buyer_address: tuple[str, ...]
    goods: tuple[ReceiptRow, ...]
    delivery: tuple[ReceiptRow, ...]
    rates: tuple[RateRow, ...]
    net_total: int
    tax_total: int
    total: int
    refunds: tuple[RefundRow, ...]
    shown: TotalsShown

    @property
    def rows(self) -> tuple[ReceiptRow, ...]:
        return self.goods + self.delivery

    @property
    def date_label(self) -> str:
        return "Date of payment" if self.is_paid else "Order date"

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def total_after_refunds(self) -> int:
        return self.total - self.refunded

    @property
    def tax_after_refunds(self) -> int:
        return self.tax_total - sum(refund.tax for refund in self.refunds)

    @property
    def has_discount(self) -> bool:
        return self.shown.discount > 0

    def money(self, amount: int) -> str:
        return format_money(amount, self.currency)


def _goods_row(line: OrderLine) -> ReceiptRow:
    label = f" ({line.variant_label})" if line.variant_label else ""
    return ReceiptRow(
        description=f"{line.product_title}{label}",
        sku=line.sku,
        quantity=line.quantity,
        unit_price=line.unit_price,
        net=line.net,
        tax=line.tax,
        rate=line.tax_rate,
        discount=line.discount,
    )


def _delivery_rows(
    order: Order, goods: Sequence[ReceiptRow], taxes: Sequence[OrderTax], *, discount: int
) -> list[ReceiptRow]:
    """Return the delivery as one row per rate: what each rate's tax row holds beyond the goods;
    the first row also carries what a `discount` took off delivery (and its price before it)."""
    parts: list[tuple[Decimal | None, int, int]] = []
    for band in taxes:
        at_rate = [row for row in goods if row.rate == band.rate]
        net = band.net - sum(row.net for row in at_rate)
        tax = band.tax - sum(row.tax for row in at_rate)
        if net or tax:
            parts.append((band.rate, net, tax))
    adds_up = sum(part[1] for part in parts) == order.shipping_total and sum(part[2] for part in parts) == (
        order.shipping_tax
    )
    if not adds_up or any(net < 0 or tax < 0 for _rate, net, tax in parts):
        parts = [(None, order.shipping_total, order.shipping_tax)]
    if not parts:  # delivered free
        parts = [(None, 0, 0)]
    description = f"Delivery ({order.shipping_method_name})"
    return [
        ReceiptRow(
            description=description,
            sku="",
            quantity=1,
            unit_price=(net + tax if order.prices_include_tax else net) + off,
            net=net,
            tax=tax,
            rate=rate,
            is_delivery=True,
            discount=off,
        )
        for (rate, net, tax), off in zip(parts, [discount] + [0] * (len(parts) - 1), strict=True)
    ]


def _rates_of(rows: Iterable[ReceiptRow]) -> list[RateRow]:
    """Return the tax per rate added up from the rows (for an order without its own tax rows)."""
    totals: dict[Decimal | None, tuple[int, int]] = {}
    for row in rows:
        net, tax = totals.get(row.rate, (0, 0))
        totals[row.rate] = (net + row.net, tax + row.tax)
    ordered = sorted(totals.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return [RateRow(rate=rate, net=net, tax=tax) for rate, (net, tax) in ordered]


def _buyer_address(order: Order) -> tuple[str, ...]:
    parts = [order.line1, order.line2, f"{order.city} {order.postcode}".strip(), order.get_country_display()]
    return tuple(part for part in parts if part)


def receipt_read(*, order: Order) -> Receipt:
    """Return the order's receipt from its snapshot: its lines, tax rows and refunds, prefetched
    (the order page) or read here (the e-mail)."""
    taxes = list(order.taxes.all())
    lines = list(order.lines.all())
    shown = totals_shown(order=order, lines=lines)
    goods = [_goods_row(line) for line in lines]
    delivery = _delivery_rows(order, goods, taxes, discount=shown.discount_delivery)
    if taxes:
        rates = [RateRow(rate=band.rate, net=band.net, tax=band.tax) for band in taxes]
    else:
        rates = _rates_of([*goods, *delivery])
    refunds = sorted(
        (refund for refund in order.refunds.all() if refund.status == Refund.Status.SUCCEEDED),
        key=lambda refund: (refund.created_at, refund.pk),
    )
    is_paid = receipt_is_available(order)
    return Receipt(
        number=order.number,
        currency=order.currency,
        tax_name=order.tax_name or settings.TAX_NAME,
        prices_include_tax=order.prices_include_tax,
        is_paid=is_paid,
        date=(order.paid_at if is_paid and order.paid_at else order.created_at),
        seller=Seller(
            legal_name=settings.SHOP_LEGAL_NAME,
            address=settings.SHOP_ADDRESS,
            vat_number=settings.SHOP_VAT_NUMBER,
        ),
        buyer_name=order.full_name,
        buyer_address=_buyer_address(order),
        goods=tuple(goods),
        delivery=tuple(delivery),
        rates=tuple(rates),
        net_total=order.subtotal + order.shipping_total,
        tax_total=order.tax_total,
        total=order.total,
        refunds=tuple(
            RefundRow(
                date=refund.created_at,
                amount=refund.amount,
                tax=refund.tax,
                reason=refund.reason,
            )
            for refund in refunds
        ),
        shown=shown,
    )
