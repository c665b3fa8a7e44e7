"""An order's VAT receipt: its rows (goods, delivery at each rate, the tax per rate, refunds)
read once from the order's money snapshot, for the order page, the confirmation e-mail, the
printable receipt and its PDF alike."""

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
class ReceiptRow:
    """One line of goods, or the delivery's share at one rate."""

    description: str
    sku: str
    quantity: int
    unit_price: int  # as the catalogue priced it: including tax when the order's prices did
    net: int
    tax: int
    rate: Decimal | None  # None: nothing was charged, or the rate is not on record
    is_delivery: bool = False

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def gross(self) -> int:
        return self.net + self.tax

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)


@dataclass(frozen=True)
class RateRow:
    """The tax at one rate over the whole order, delivery included."""

    rate: Decimal | None
    net: int
    tax: int

    @property
    def gross(self) -> int:
        return self.net + self.tax

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)


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
    )


def _delivery_rows(order: Order, goods: Sequence[ReceiptRow], taxes: Sequence[OrderTax]) -> list[ReceiptRow]:
    """Return the delivery as one row per rate: what each rate's tax row holds beyond the goods."""
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
            unit_price=net + tax if order.prices_include_tax else net,
            net=net,
            tax=tax,
            rate=rate,
            is_delivery=True,
        )
        for rate, net, tax in parts
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
    goods = [_goods_row(line) for line in order.lines.all()]
    delivery = _delivery_rows(order, goods, taxes)
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
    )
