"""The catalogue's CSV: one row a variant, the product's own columns on its first row, close to
Shopify's product CSV so that a shop can bring its catalogue over (and take it away again).

Columns: Handle, Title, Body, Category, Type, Tax Class, Published, SEO Title, SEO Description,
Option1 Name, Option1 Value, Option2 Name, Option2 Value, Option3 Name, Option3 Value, Variant SKU,
Variant Price, Variant Compare At Price, Variant Grams, Variant Barcode, Variant Inventory Qty.
Prices are money as people write them (24.99, £24.99); Published is TRUE or FALSE.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.text import slugify

from shop.money import currency_symbol, to_minor_units

COLUMNS = [
    "Handle",
    "Title",
    "Body",
    "Category",
    "Type",
    "Tax Class",
    "Published",
    "SEO Title",
    "SEO Description",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Grams",
    "Variant Barcode",
    "Variant Inventory Qty",
]
REQUIRED = {"Handle", "Variant SKU", "Variant Price"}
MAX_PRICE = 10_000_000
MAX_ROWS = 200_000


class RowError(ValueError):
    """A row that cannot be read, and why."""


@dataclass
class VariantRow:
    line: int  # its row number in the file, the header being 1
    sku: str
    options: dict[str, str]
    price: int
    compare_at_price: int | None
    grams: int
    barcode: str
    on_hand: int | None  # None: leave the stock as it is


@dataclass
class ProductRows:
    handle: str
    line: int
    fields: dict[str, str]  # Title, Body, Category, Type, Tax Class, Published, SEO …
    variants: list[VariantRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, why)


def decode(content: bytes) -> str:
    """Return the file's text: UTF-8 (with or without a byte-order mark), else Windows-1252, as
    spreadsheets save it."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="strict")


def money(text: str, what: str, *, blank_ok: bool = False) -> int | None:
    raw = text.strip().removeprefix(currency_symbol(settings.SHOP_CURRENCY)).replace(",", "").strip()
    if not raw:
        if blank_ok:
            return None
        raise RowError(f"{what} is missing.")
    try:
        amount = Decimal(raw)
    except InvalidOperation as error:
        raise RowError(f"{what} “{text}” is not an amount of money (e.g. 24.99).") from error
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise RowError(f"{what} “{text}” is not an amount of money (e.g. 24.99).")
    minor = to_minor_units(amount, settings.SHOP_CURRENCY)
    if minor > MAX_PRICE:
        raise RowError(f"{what} “{text}” is more than a price can be.")
    return minor


def whole(text: str, what: str, *, blank: int | None) -> int | None:
    raw = text.strip()
    if not raw:
        return blank
    if not raw.lstrip("-").isdigit():
        raise RowError(f"{what} “{text}” is not a whole number.")
    if int(raw) < 0:
        raise RowError(f"{what} cannot be negative.")
    return int(raw)


def _variant(row: dict[str, str], line: int) -> VariantRow:
    sku = row.get("Variant SKU", "").strip()
    if not sku or len(sku) > 64:
        raise RowError("Variant SKU is missing or longer than 64 characters.")
    options = {}
    for number in (1, 2, 3):
        name, value = (
            row.get(f"Option{number} Name", "").strip(),
            row.get(f"Option{number} Value", "").strip(),
        )
        if name and value and name.lower() != "title":  # Shopify's "Title: Default Title" is no option
            options[slugify(name).replace("-", "_")[:40] or "option"] = value[:60]
    price = money(row.get("Variant Price", ""), "Variant Price")
    compare = money(row.get("Variant Compare At Price", ""), "Variant Compare At Price", blank_ok=True)
    if compare is not None and compare <= price:
        compare = None  # Shopify keeps equal ones; they say nothing
    return VariantRow(
        line=line,
        sku=sku,
        options=options,
        price=price,
        compare_at_price=compare,
        grams=whole(row.get("Variant Grams", ""), "Variant Grams", blank=0),
        barcode=row.get("Variant Barcode", "").strip()[:64],
        on_hand=whole(row.get("Variant Inventory Qty", ""), "Variant Inventory Qty", blank=None),
    )


def read(text: str) -> tuple[list[ProductRows], list[tuple[int, str]]]:
    """Return the file's products (their rows grouped by handle, each row read or refused with
    why) and the file's own problems (a missing column, too many rows)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED - set(reader.fieldnames or [])
    if missing:
        return [], [
            (1, f"The file has no {', '.join(sorted(missing))} column (the first row names the columns).")
        ]
    products: dict[str, ProductRows] = {}
    for index, row in enumerate(reader, start=2):
        if index > MAX_ROWS + 1:
            return list(products.values()), [(index, f"A file can hold at most {MAX_ROWS:,} rows.")]
        handle = slugify(row.get("Handle", "") or "")[:220]
        if not handle:
            blank = products.setdefault(
                "", ProductRows(handle="", line=index, fields=dict.fromkeys(COLUMNS[1:9], ""))
            )
            blank.errors.append((index, "Handle is missing."))
            continue
        product = products.get(handle)
        if product is None:
            fields = {name: (row.get(name) or "").strip() for name in COLUMNS[1:9]}
            product = products[handle] = ProductRows(handle=handle, line=index, fields=fields)
        try:
            product.variants.append(_variant(row, index))
        except RowError as error:
            product.errors.append((index, str(error)))
    return list(products.values()), []


def write(rows, out) -> None:
    """Write `rows` (dicts by column) as the CSV, header first."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
